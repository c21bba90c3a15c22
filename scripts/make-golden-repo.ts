/**
 * Writes the golden repository test/fixtures/repo-v1/ with today's code. Run once per format
 * version; the golden test then proves every later version still reads it. Never regenerate a
 * committed fixture to make a failing golden test pass: that would hide a format break.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backup } from "../src/backup/archiver.ts";
import { Repository } from "../src/repo/repository.ts";
import { openStorage } from "../src/storage/open.ts";
import { parseSettings } from "../src/storage/settings.ts";

const target = join(import.meta.dirname, "../test/fixtures/repo-v1");
await rm(target, { recursive: true, force: true });
await mkdir(target, { recursive: true });
const source = await mkdtemp(join(tmpdir(), "ferry-golden-"));
await mkdir(join(source, "docs"));
await writeFile(join(source, "docs", "hello.txt"), "Hello from format version 1.\n");
await writeFile(join(source, "zeros.bin"), Buffer.alloc(300 * 1024));
const storage = await openStorage(parseSettings({ type: "local", path: target }));
const repo = await Repository.init(storage, "golden", {
  kdf: { memoryKiB: 64, passes: 1, parallelism: 1 },
  cacheRoot: null,
});
const result = await backup(repo, { paths: [source], host: "golden-host", tags: ["golden"] });
await storage.close();
await rm(source, { recursive: true, force: true });
console.log(JSON.stringify({ snapshot: result.id, source, tree: result.snapshot.tree }));
