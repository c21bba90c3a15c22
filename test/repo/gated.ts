/** A repository whose storage holds chosen calls until the test lets them go. */
import { PassThrough } from "node:stream";
import type { TestContext } from "node:test";
import { Repository } from "../../src/repo/repository.ts";
import type { MemoryServer } from "../../src/storage/adapters/memory.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { Body, ReadOptions, Storage, WriteOptions } from "../../src/storage/storage.ts";

/**
 * The repository on `server` through a storage whose calls matching `stops` wait until
 * `release`; `reached` resolves when the first one does.
 */
export async function gatedRepo(
  t: TestContext,
  server: MemoryServer,
  stops: (method: "write" | "list" | "read", key: string) => boolean,
): Promise<{ repo: Repository; reached: Promise<void>; release: () => void }> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let arrive!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const storage = await openStorage(parseSettings({ type: "memory", path: "/repo" }), {
    memory: server,
  });
  t.after(() => storage.close());
  const gated: Storage = {
    ...storage,
    capabilities: storage.capabilities,
    write: async (key: string, body: Body, options?: WriteOptions) => {
      if (stops("write", key)) {
        arrive();
        await gate;
      }
      return storage.write(key, body, options);
    },
    read: (key: string, options?: ReadOptions) => {
      if (!stops("read", key)) return storage.read(key, options);
      arrive();
      const out = new PassThrough();
      void gate.then(() => {
        storage
          .read(key, options)
          .on("error", (error) => out.destroy(error))
          .pipe(out);
      });
      return out;
    },
    list: async function* (dir: string) {
      if (stops("list", dir)) {
        arrive();
        await gate;
      }
      yield* storage.list(dir);
    },
  };
  return { repo: await Repository.open(gated, "pw", { cacheRoot: null }), reached, release };
}
