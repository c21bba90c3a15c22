/** Shared set-up for engine tests: a repository on a memory destination, temp directories. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryServer } from "../../src/storage/adapters/memory.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { Storage } from "../../src/storage/storage.ts";
import { Repository, type InitOptions } from "../../src/repo/repository.ts";

/** A cheap KDF: tests open repositories often. */
export const TEST_KDF = { memoryKiB: 64, passes: 1, parallelism: 1 };

/** A fresh repository on a memory server, without a cache. */
export async function memoryRepo(
  server = new MemoryServer(),
  init: Omit<InitOptions, "kdf" | "cacheRoot"> = {},
): Promise<{ repo: Repository; storage: Storage; server: MemoryServer }> {
  const storage = await openStorage(parseSettings({ type: "memory", path: "/repo" }), {
    memory: server,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  const repo = await Repository.init(storage, "pw", { ...init, kdf: TEST_KDF, cacheRoot: null });
  return { repo, storage, server };
}

/** Opens the repository on `server` again (a second process, as far as the repository knows). */
export async function reopen(server: MemoryServer): Promise<Repository> {
  const storage = await openStorage(parseSettings({ type: "memory", path: "/repo" }), {
    memory: server,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  return Repository.open(storage, "pw", { cacheRoot: null });
}

/** A temp directory removed by the returned function. */
export async function tempDir(
  prefix = "ferry-test-",
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
