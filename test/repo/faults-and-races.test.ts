/**
 * Operations that may overlap (what one finds must stay consistent while the other writes or
 * removes), and a transient failure where a backup must not give up.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { backup } from "../../src/backup/archiver.ts";
import { check } from "../../src/backup/check.ts";
import { forget } from "../../src/backup/forget.ts";
import { prune } from "../../src/backup/prune.ts";
import { restore } from "../../src/backup/restorer.ts";
import { isRepoError } from "../../src/repo/errors.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { differences, fingerprint } from "./compare.ts";
import { gatedRepo } from "./gated.ts";
import { memoryRepo, reopen, tempDir } from "./helpers.ts";

describe("check while a backup runs", () => {
  // Both take shared locks, so they may overlap. A snapshot is written after its packs and
  // index files; a check that reads the index before the snapshot list can see a snapshot
  // whose index files it never read.
  it("reports no errors when a backup finishes between its index and snapshot reads", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-check-race-");
    t.after(cleanup);
    const src = join(work, "src");
    await mkdir(src);
    await writeFile(join(src, "old.bin"), randomBytes(100_000));
    const { server } = await memoryRepo();
    await backup(await reopen(server), { paths: [src] });
    await writeFile(join(src, "new.bin"), randomBytes(100_000));

    const gate = await gatedRepo(
      t,
      server,
      (method, key) => method === "list" && key === "snapshots",
    );
    const checking = check(gate.repo);
    await gate.reached;
    const saved = await backup(await reopen(server), { paths: [src] });
    gate.release();
    const report = await checking;
    assert.deepEqual(
      report.errors.map((e) => e.message),
      [],
      `check reported damage while snapshot ${saved.id.slice(0, 8)} was being written`,
    );
    assert.deepEqual((await check(await reopen(server))).errors, []);
  });
});

describe("prune while a restore runs", () => {
  // Prune moves the used blobs of mostly-unused packs to new packs and removes the old ones; a
  // restore that located its blobs before must not find them gone. Either prune waits for the
  // restore (a shared lock, as check and backup take) or the restore still succeeds.
  it("does not pull packs from under the restore", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-restore-race-");
    t.after(cleanup);
    const src = join(work, "src");
    await mkdir(src);
    await writeFile(join(src, "keep.bin"), randomBytes(300_000));
    await writeFile(join(src, "goes.bin"), randomBytes(900_000));
    const { server } = await memoryRepo();
    await backup(await reopen(server), { paths: [src] });
    await rm(join(src, "goes.bin"));
    const kept = await backup(await reopen(server), { paths: [src] });
    await forget(await reopen(server), { keepLast: 1 });

    const gate = await gatedRepo(
      t,
      server,
      (method, key) => method === "read" && key.startsWith("data/"),
    );
    const target = join(work, "restored");
    const restoring = restore(gate.repo, kept, { target, path: src });
    restoring.catch(() => undefined);
    await gate.reached;
    const outcome = await prune(await reopen(server)).then(
      (report) => `pruned: ${report.repacked.packs} packs repacked`,
      (error: unknown) => {
        if (isRepoError(error, "LOCKED")) return "refused";
        throw error;
      },
    );
    gate.release();
    await assert.doesNotReject(restoring, `the restore failed after prune (${outcome})`);
    assert.deepEqual(differences(await fingerprint(src), await fingerprint(target)), []);
  });
});

describe("a lost connection while a backup makes a pack directory", () => {
  // A new Storage does not know which data/<xx> directories exist: it tries mkdir, and on
  // EXISTS checks with a stat that the path is a directory. A connection lost during that stat
  // must be retried like any other transient failure, not end the backup.
  it("is retried: the backup completes", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-mkdir-");
    t.after(cleanup);
    const src = join(work, "src");
    await mkdir(src);
    await writeFile(join(src, "file"), randomBytes(100_000));
    const { storage, server } = await memoryRepo();
    for (let i = 0; i < 256; i++) await storage.mkdir(`data/${i.toString(16).padStart(2, "0")}`);
    let fired = 0;
    server.fault = (operation, path) => {
      if (operation !== "stat" || !/^\/repo\/data\/[0-9a-f]{2}$/.test(path) || fired > 0) {
        return undefined;
      }
      fired++;
      return new StorageError("CONNECTION", `Injected: connection lost during stat "${path}".`);
    };
    const saved = await backup(await reopen(server), { paths: [src] });
    assert.equal(fired, 1);
    assert.ok(saved.snapshot.summary !== undefined);
  });
});
