/**
 * The repository under crashes and contention: backups killed with SIGKILL at random points and
 * resumed, two backups at once, prune while a backup runs, damaged packs, a lost connection.
 * After each: check finds nothing wrong and every snapshot restores exactly.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import {
  copyFile,
  link,
  mkdir,
  open,
  readdir,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { backup, type BackupResult } from "../../src/backup/archiver.ts";
import { check, type CheckReport } from "../../src/backup/check.ts";
import { forget } from "../../src/backup/forget.ts";
import { readIndexState } from "../../src/backup/index-state.ts";
import { listStoredPacks } from "../../src/backup/pack-listing.ts";
import { prune } from "../../src/backup/prune.ts";
import { restore, RestoreDamagedError } from "../../src/backup/restorer.ts";
import { walkTrees } from "../../src/backup/tree-walk.ts";
import { isRepoError } from "../../src/repo/errors.ts";
import { packKey } from "../../src/repo/layout.ts";
import { listLocks, RepoLock } from "../../src/repo/lock.ts";
import { Repository } from "../../src/repo/repository.ts";
import type { TreeNode } from "../../src/repo/tree.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { MemoryServer, type MemoryOperation } from "../../src/storage/adapters/memory.ts";
import { tempPath } from "../../src/storage/keys.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { ChildEvent } from "./backup-child.ts";
import { memoryRepo, reopen, TEST_KDF, tempDir } from "./helpers.ts";
import { gatedRepo } from "./gated.ts";
import { assertSameState, readState } from "./tree-model.ts";

const CHILD = fileURLToPath(new URL("./backup-child.ts", import.meta.url));

/** Small packs, so a few megabytes make many of them. */
const SMALL_PACKS = { target: 256 * 1024, max: 1024 * 1024 };

async function localDestination(dir: string) {
  return openStorage(parseSettings({ type: "local", path: dir }), {
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
}

/** A new repository with small packs on a memory server; open it with `reopen`. */
async function smallPackMemoryRepo(): Promise<MemoryServer> {
  const server = new MemoryServer();
  const storage = await openStorage(parseSettings({ type: "memory", path: "/repo" }), {
    memory: server,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  await Repository.init(storage, "pw", { kdf: TEST_KDF, cacheRoot: null, packSize: SMALL_PACKS });
  return server;
}

/** A new repository in `dir`; the storage is closed when the test ends. */
async function initLocal(t: TestContext, dir: string): Promise<Repository> {
  const storage = await localDestination(dir);
  t.after(() => storage.close());
  return Repository.init(storage, "pw", {
    kdf: TEST_KDF,
    cacheRoot: null,
    packSize: SMALL_PACKS,
  });
}

/** The repository in `dir`, opened afresh (nothing loaded, no cache). */
async function openLocal(t: TestContext, dir: string): Promise<Repository> {
  const storage = await localDestination(dir);
  t.after(() => storage.close());
  return Repository.open(storage, "pw", { cacheRoot: null });
}

/** A running child backup: its events so far, and its exit. */
interface Child {
  pid: number;
  events: ChildEvent[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill: () => void;
}

function startChild(repoDir: string, cacheDir: string, sources: string[]): Child {
  const env = { ...process.env };
  // The child is a plain script, not a test file of this run.
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [CHILD, repoDir, cacheDir, ...sources], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: ChildEvent[] = [];
  let out = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    out += text;
    for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
      events.push(JSON.parse(out.slice(0, nl)) as ChildEvent);
      out = out.slice(nl + 1);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
  }>((resolve) => {
    child.on("close", (code, signal) => {
      resolve({ code, signal, stderr });
    });
  });
  assert.ok(child.pid !== undefined);
  return { pid: child.pid, events, exited, kill: () => child.kill("SIGKILL") };
}

function warningsOf(events: ChildEvent[]): string[] {
  return events.flatMap((e) => ("warning" in e ? [e.warning] : []));
}

/** Object files (64 hex digits) in a directory of the repository. */
async function objectCount(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => []);
  return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).length;
}

/** Temporary files (interrupted uploads) anywhere under `data/`. */
async function tempFiles(repoDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await readdir(join(repoDir, "data"))) {
    for (const name of await readdir(join(repoDir, "data", sub))) {
      if (name.includes(".ferry-tmp-")) out.push(`data/${sub}/${name}`);
    }
  }
  return out;
}

/** Every blob the snapshot's tree reaches (trees and data). */
async function reachable(repo: Repository, tree: string): Promise<Set<string>> {
  const walk = await walkTrees([tree], (id) => repo.loadTree(id), { concurrency: 4 });
  assert.equal(walk.failures.size, 0);
  return new Set(walk.blobs.keys());
}

/** Restores `saved` (the backup of `src`) into a new directory and compares it with `src`. */
async function assertRestores(
  repo: Repository,
  saved: Pick<BackupResult, "id" | "snapshot">,
  src: string,
  target: string,
): Promise<void> {
  const expected = await readState(src);
  const result = await restore(repo, saved, { target, path: src });
  assert.deepEqual(result.warnings, []);
  assertSameState(expected, await readState(target), `restore of ${src}`);
}

function assertClean(report: CheckReport): void {
  assert.deepEqual(report.errors, []);
}

/** ~30 MB of random data: large files over several chunks, many small ones, a few specials. */
async function bigSource(dir: string): Promise<void> {
  await mkdir(join(dir, "large"), { recursive: true });
  await mkdir(join(dir, "many/nested/deeper"), { recursive: true });
  await mkdir(join(dir, "empty"));
  for (let i = 0; i < 4; i++) {
    await writeFile(join(dir, "large", `file-${i}.bin`), randomBytes(4 * 1024 * 1024));
  }
  await copyFile(join(dir, "large/file-0.bin"), join(dir, "large/copy-of-0.bin"));
  for (let i = 0; i < 110; i++) {
    const sub = i % 3 === 0 ? "many" : i % 3 === 1 ? "many/nested" : "many/nested/deeper";
    await writeFile(join(dir, sub, `part-${i}.bin`), randomBytes(100 * 1024 + i));
  }
  for (let i = 0; i < 30; i++) await writeFile(join(dir, `note ${i}.txt`), `note ${i}\n`.repeat(i));
  await symlink("large/file-1.bin", join(dir, "link"));
  await link(join(dir, "note 3.txt"), join(dir, "hardlink"));
}

/** When to kill a child backup. */
type KillPoint =
  /** Once this many more index files (one per pack) are stored than at its start. */
  | { packs: number }
  /** This long after its start: before its lock, between packs, or in the middle of one. */
  | { ms: number }
  /** Once it consolidates its index files (their count falls), before its snapshot. */
  | { consolidating: true };

/**
 * Backups in child processes killed at `plan`'s points, one after the other. Checks after each
 * that it uploaded no blob that was indexed when it started, and that it said so when it cleared
 * a dead run's lock. Returns the pids whose locks are left, how many runs died, and how many
 * dead runs' locks were cleared.
 */
async function killedRuns(
  t: TestContext,
  repoDir: string,
  cacheDir: string,
  src: string,
  plan: KillPoint[],
  deadLocks: Set<number>,
): Promise<{ deadLocks: Set<number>; killed: number; cleared: number }> {
  const indexDir = join(repoDir, "index");
  const observer = await openLocal(t, repoDir);
  const pidsWithLocks = async () =>
    new Set((await listLocks(observer)).map((l) => l.lock?.pid ?? -1));
  let killed = 0;
  let cleared = 0;
  for (const point of plan) {
    const before = await readIndexState(observer);
    const start = await objectCount(indexDir);
    const snapshotsBefore = await objectCount(join(repoDir, "snapshots"));
    const child = startChild(repoDir, cacheDir, [src]);
    const began = Date.now();
    const state = { done: false, most: start };
    void child.exited.then(() => (state.done = true));
    for (;;) {
      await sleep(2);
      if (state.done) break;
      const count = await objectCount(indexDir);
      state.most = Math.max(state.most, count);
      const hit =
        "packs" in point
          ? count - start >= point.packs
          : "ms" in point
            ? Date.now() - began >= point.ms
            : count < state.most;
      if (hit) {
        child.kill();
        break;
      }
    }
    const exit = await child.exited;
    if (exit.signal === "SIGKILL") {
      killed++;
      // A kill can land after the snapshot was written, on the way out; check and restore
      // below show whether any snapshot there names something missing.
      if ((await objectCount(join(repoDir, "snapshots"))) !== snapshotsBefore) {
        t.diagnostic(`child ${child.pid} was killed after writing its snapshot`);
      }
    } else {
      // It finished first: a valid outcome, though one that tests less.
      assert.equal(exit.code, 0, exit.stderr);
      t.diagnostic(`child ${child.pid} finished before its kill point ${JSON.stringify(point)}`);
    }
    const after = await readIndexState(observer);
    for (const pack of after.packs.values()) {
      if (before.packs.has(pack.id)) continue;
      for (const blob of pack.blobs) {
        assert.ok(
          !before.locations.has(blob.id),
          `blob ${blob.id} indexed before was uploaded again`,
        );
      }
    }
    // Only this run can have removed a dead run's lock, and it must have said so.
    const now = await pidsWithLocks();
    for (const pid of deadLocks) {
      if (now.has(pid)) continue;
      cleared++;
      assert.ok(
        warningsOf(child.events).some(
          (w) =>
            w.startsWith("Cleared a stale lock") &&
            w.includes(`(pid ${pid})`) &&
            w.includes(`process ${pid} on this host is gone`),
        ),
        `run ${child.pid} removed the lock of ${pid} without a message: ${JSON.stringify(child.events)}`,
      );
    }
    for (const pid of now) assert.ok(deadLocks.has(pid) || pid === child.pid, `lock of ${pid}`);
    if (exit.signal !== "SIGKILL") assert.equal(now.size, 0);
    deadLocks = now;
  }
  return { deadLocks, killed, cleared };
}

/**
 * Runs the backup of `src` to completion in this process after killed runs: it clears the
 * locks they left (saying so) and uploads exactly the blobs they did not index. Returns it, and
 * the blobs it added.
 */
async function resume(
  t: TestContext,
  repoDir: string,
  src: string,
  deadLocks: Set<number>,
): Promise<{ saved: BackupResult; added: { id: string; type: string }[] }> {
  const repo = await openLocal(t, repoDir);
  const before = await readIndexState(repo);
  const packsBefore = new Set((await listStoredPacks(repo)).keys());
  const warnings: string[] = [];
  const saved = await backup(repo, {
    paths: [src],
    workers: 2,
    onWarning: (w) => warnings.push(w.message),
  });
  for (const pid of deadLocks) {
    assert.ok(
      warnings.some(
        (w) =>
          w.startsWith("Cleared a stale lock") && w.includes(`process ${pid} on this host is gone`),
      ),
      JSON.stringify(warnings),
    );
  }
  assert.equal(warnings.length, deadLocks.size, JSON.stringify(warnings));
  assert.deepEqual(await listLocks(repo), []);

  const summary = saved.snapshot.summary;
  assert.ok(summary !== undefined);
  const used = await reachable(repo, saved.snapshot.tree);
  const missing = [...used].filter((id) => !before.locations.has(id));
  assert.equal(summary.blobsAdded, missing.length, "blobs added = blobs not indexed before");
  const after = await readIndexState(await openLocal(t, repoDir));
  const added = [...after.packs.values()].filter((p) => !packsBefore.has(p.id));
  const addedBlobs = added.flatMap((p) => p.blobs.map((b) => b.id));
  assert.deepEqual(
    addedBlobs.filter((id) => before.locations.has(id)),
    [],
    "indexed blobs uploaded again",
  );
  assert.deepEqual(new Set(addedBlobs), new Set(missing));
  assert.equal(addedBlobs.length, missing.length, "a blob was uploaded twice");
  const rawOf = (id: string) => after.locations.get(id)?.[0]?.rawLength ?? NaN;
  assert.equal(
    summary.dataAdded,
    missing.reduce((sum, id) => sum + rawOf(id), 0),
  );
  const total = [...used].reduce((sum, id) => sum + rawOf(id), 0);
  t.diagnostic(
    `the completing run added ${summary.blobsAdded} blobs, ${summary.dataAdded} of ${total} bytes; ` +
      `${before.locations.size} blobs were indexed before it`,
  );
  return {
    saved,
    added: missing.map((id) => ({ id, type: after.locations.get(id)?.[0]?.type ?? "?" })),
  };
}

/** Check with read-data finds no errors and at most unreferenced packs; returns their count. */
async function checkAfterCrashes(t: TestContext, repoDir: string): Promise<number> {
  const report = await check(await openLocal(t, repoDir), { readData: true });
  assertClean(report);
  for (const w of report.warnings) assert.match(w, /not in any index: unreferenced/);
  return report.warnings.length;
}

describe("a backup killed at random points", () => {
  it("is resumed: nothing indexed is uploaded again, check is clean, the snapshot restores exactly", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-crash-");
    t.after(cleanup);
    const src = join(work, "src");
    const repoDir = join(work, "repo");
    const cacheDir = join(work, "cache");
    await bigSource(src);
    await initLocal(t, repoDir);

    const plan: KillPoint[] = [
      { packs: randomInt(3, 12) },
      { packs: randomInt(5, 20) },
      { ms: randomInt(150, 900) },
      { packs: randomInt(5, 20) },
    ];
    t.diagnostic(`kill plan: ${JSON.stringify(plan)}`);
    const first = await killedRuns(t, repoDir, cacheDir, src, plan, new Set());
    t.diagnostic(`killed ${first.killed} of ${plan.length} runs`);
    assert.ok(first.killed >= 2, "too few runs were killed for the test to mean anything");
    const { saved } = await resume(t, repoDir, src, first.deadLocks);
    assert.ok(first.cleared + first.deadLocks.size > 0, "no run found a dead run's lock");
    const unreferenced = await checkAfterCrashes(t, repoDir);
    await assertRestores(await openLocal(t, repoDir), saved, src, join(work, "restored"));

    // A run killed while it consolidates its index files, after every pack is stored.
    await writeFile(join(src, "large/added.bin"), randomBytes(3 * 1024 * 1024));
    for (let i = 0; i < 20; i++) await writeFile(join(src, `many/added-${i}`), randomBytes(50_000));
    const second = await killedRuns(
      t,
      repoDir,
      cacheDir,
      src,
      [{ consolidating: true }],
      new Set(),
    );
    const resaved = await resume(t, repoDir, src, second.deadLocks);
    t.diagnostic(`killed ${second.killed} while consolidating`);
    if (second.killed === 1) {
      // Every pack was stored and indexed: only trees whose metadata moved can be new.
      assert.deepEqual(
        resaved.added.filter((b) => b.type !== "tree"),
        [],
      );
    } else {
      t.diagnostic("the consolidating run was not caught in time");
    }
    await checkAfterCrashes(t, repoDir);
    await assertRestores(await openLocal(t, repoDir), resaved.saved, src, join(work, "restored-2"));

    // Prune clears what the killed runs left; the snapshots are untouched.
    const pruned = await prune(await openLocal(t, repoDir));
    assert.ok(pruned.unreferenced.packs >= unreferenced);
    const again = await check(await openLocal(t, repoDir), { readData: true });
    assertClean(again);
    assert.deepEqual(again.warnings, []);
    await assertRestores(await openLocal(t, repoDir), resaved.saved, src, join(work, "restored-3"));
    t.diagnostic(
      `temporary files left in data/ by killed uploads: ${(await tempFiles(repoDir)).length}`,
    );
  });
});

/** Two small trees sharing some files, for concurrent backups. */
async function twoSources(work: string): Promise<[string, string]> {
  const a = join(work, "a");
  const b = join(work, "b");
  const shared = randomBytes(2 * 1024 * 1024);
  for (const [i, dir] of [a, b].entries()) {
    await mkdir(join(dir, "sub"), { recursive: true });
    await writeFile(join(dir, "shared.bin"), shared);
    await writeFile(join(dir, "own.bin"), randomBytes(3 * 1024 * 1024 + i));
    for (let j = 0; j < 40; j++)
      await writeFile(join(dir, "sub", `f${j}`), randomBytes(20_000 + j));
    await symlink("shared.bin", join(dir, "link"));
  }
  return [a, b];
}

describe("two backups into one repository at once", () => {
  it("in two processes: both snapshots restore exactly, check is clean", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-two-");
    t.after(cleanup);
    const [a, b] = await twoSources(work);
    const repoDir = join(work, "repo");
    await initLocal(t, repoDir);
    const children = [
      startChild(repoDir, join(work, "cache-a"), [a]),
      startChild(repoDir, join(work, "cache-b"), [b]),
    ];
    const ids: string[] = [];
    for (const child of children) {
      const exit = await child.exited;
      assert.equal(exit.code, 0, exit.stderr);
      const done = child.events.find((e) => "done" in e);
      assert.ok(done !== undefined && "done" in done);
      ids.push(done.done);
    }
    const repo = await openLocal(t, repoDir);
    assertClean(await check(repo, { readData: true }));
    const snapshots = await repo.listSnapshots();
    assert.deepEqual(snapshots.map((s) => s.id).sort(), [...ids].sort());
    await repo.loadIndex();
    for (const [i, source] of [a, b].entries()) {
      const entry = snapshots.find((s) => s.id === ids[i]);
      assert.ok(entry !== undefined);
      await assertRestores(repo, entry, source, join(work, `restored-${i}`));
    }
  });

  it("in one process on two Repository objects: both restore exactly, check is clean", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-two-");
    t.after(cleanup);
    const [a, b] = await twoSources(work);
    const server = await smallPackMemoryRepo();
    const [first, second] = await Promise.all([
      backup(await reopen(server), { paths: [a], workers: 1 }),
      backup(await reopen(server), { paths: [b], workers: 1 }),
    ]);
    const repo = await reopen(server);
    assertClean(await check(repo, { readData: true }));
    await repo.loadIndex();
    await assertRestores(repo, first, a, join(work, "restored-a"));
    await assertRestores(repo, second, b, join(work, "restored-b"));
  });
});

describe("prune while a backup runs", () => {
  it("is refused with LOCKED; after the backup it runs, and check is clean", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-prune-");
    t.after(cleanup);
    const src = join(work, "src");
    await mkdir(src);
    await writeFile(join(src, "keep.bin"), randomBytes(600_000));
    await writeFile(join(src, "goes.bin"), randomBytes(700_000));
    const { server } = await memoryRepo();
    const first = await backup(await reopen(server), { paths: [src] });
    await writeFile(join(src, "goes.bin"), "replaced\n");
    await writeFile(join(src, "new.bin"), randomBytes(300_000));
    const second = await backup(await reopen(server), { paths: [src] });

    // A backup whose first pack upload waits for the test: it holds its lock until then.
    const gate = await gatedRepo(
      t,
      server,
      (method, key) => method === "write" && key.startsWith("data/"),
    );
    await writeFile(join(src, "during.bin"), randomBytes(400_000));
    const running = backup(gate.repo, { paths: [src] });
    await gate.reached;
    const other = await reopen(server);
    assert.equal((await listLocks(other)).length, 1);
    await assert.rejects(prune(other), (error) => isRepoError(error, "LOCKED"));
    await assert.rejects(forget(other, { keepLast: 1 }), (error) => isRepoError(error, "LOCKED"));
    // A dry run only reads: it takes a shared lock and may run.
    await prune(other, { dryRun: true });
    gate.release();
    const third = await running;
    assert.deepEqual(await listLocks(other), []);

    // And the other way round: while prune holds its lock, a backup is refused.
    const held = await RepoLock.acquire(other, true, "prune");
    await assert.rejects(backup(await reopen(server), { paths: [src] }), (error) =>
      isRepoError(error, "LOCKED"),
    );
    await held.release();

    const forgotten = await forget(await reopen(server), { keepLast: 1 });
    assert.deepEqual(forgotten.removed.sort(), [first.id, second.id].sort());
    const report = await prune(await reopen(server));
    assert.ok(report.bytesFreed > 0, JSON.stringify(report));
    const repo = await reopen(server);
    assertClean(await check(repo, { readData: true }));
    await repo.loadIndex();
    await assertRestores(repo, third, src, join(work, "restored"));
  });
});

/** The node of a file in a snapshot, by its absolute path. */
async function nodeAt(repo: Repository, tree: string, path: string): Promise<TreeNode> {
  let nodes = await repo.loadTree(tree);
  const parts = path.split("/").filter((p) => p !== "");
  for (const [i, part] of parts.entries()) {
    const node = nodes.find((n) => n.name === part);
    assert.ok(node !== undefined, `${path}: no ${part}`);
    if (i === parts.length - 1) return node;
    assert.ok(node.subtree !== undefined);
    nodes = await repo.loadTree(node.subtree);
  }
  throw new Error("empty path");
}

describe("damaged packs", () => {
  it("a flipped byte and a truncated pack: check names the files, restore the others", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-damage-");
    t.after(cleanup);
    const src = join(work, "src");
    const repoDir = join(work, "repo");
    await mkdir(join(src, "sub"), { recursive: true });
    for (const name of ["a", "b", "c", "d", "sub/e", "sub/f"]) {
      await writeFile(join(src, name), randomBytes(randomInt(40_000, 200_000)));
    }
    await copyFile(join(src, "a"), join(src, "sub/a-copy"));
    await link(join(src, "b"), join(src, "sub/b-link"));
    await writeFile(join(src, "empty"), "");
    const repo = await initLocal(t, repoDir);
    const saved = await backup(repo, { paths: [src], workers: 1 });
    const packOf = async (name: string) => {
      const chunk = (await nodeAt(repo, saved.snapshot.tree, join(src, name))).content?.[0];
      assert.ok(chunk !== undefined);
      return repo.locate("data", chunk);
    };
    const tampered = await packOf("a");
    const cut = await packOf("b");
    assert.notEqual(tampered.pack, cut.pack);
    const flip = await open(join(repoDir, packKey(tampered.pack)), "r+");
    const byte = Buffer.alloc(1);
    const at = tampered.offset + Math.floor(tampered.length / 2);
    await flip.read(byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0x20;
    await flip.write(byte, 0, 1, at);
    await flip.close();
    await truncate(join(repoDir, packKey(cut.pack)), cut.offset + Math.floor(cut.length / 2));

    const lostA = [join(src, "a"), join(src, "sub/a-copy")].sort();
    const lostB = [join(src, "b"), join(src, "sub/b-link")].sort();
    const affected = (report: CheckReport, pack: string) =>
      report.errors.filter((e) => e.id === pack).flatMap((e) => e.affected);

    // Without reading data only the size shows: the truncated pack.
    const quick = await check(await openLocal(t, repoDir));
    assert.deepEqual(
      quick.errors.map((e) => e.id),
      [cut.pack],
    );
    assert.match(quick.errors[0]?.message ?? "", /truncated/);
    assert.deepEqual(affected(quick, cut.pack), [{ snapshot: saved.id, paths: lostB }]);

    const full = await check(await openLocal(t, repoDir), { readData: true });
    assert.deepEqual(full.errors.map((e) => e.id).sort(), [tampered.pack, cut.pack].sort());
    assert.deepEqual(affected(full, tampered.pack), [{ snapshot: saved.id, paths: lostA }]);
    assert.deepEqual(affected(full, cut.pack), [{ snapshot: saved.id, paths: lostB }]);

    const reader = await openLocal(t, repoDir);
    await reader.loadIndex();
    const target = join(work, "restored");
    const error = await restore(reader, saved, { target, path: src }).then(
      () => assert.fail("restore succeeded over a damaged pack"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof RestoreDamagedError, String(error));
    assert.equal(error.code, "DAMAGED");
    // Every file of a damaged blob is named, in `files` or (a hardlink to one of them) in a
    // warning; no other file is.
    const lost = [...lostA, ...lostB];
    for (const file of error.files) assert.ok(lost.includes(file), `${file} is not damaged`);
    for (const file of lost) {
      assert.ok(
        error.files.includes(file) || error.result.warnings.some((w) => w.startsWith(file)),
        `${file} is not named`,
      );
    }
    for (const file of [join(src, "a"), join(src, "b"), join(src, "sub/a-copy")]) {
      assert.ok(error.files.includes(file) && error.message.includes(file), file);
    }
    const expected = await readState(src);
    const got = await readState(target);
    for (const rel of ["a", "b", "sub/a-copy", "sub/b-link"]) {
      expected.print.delete(rel);
      expected.mtimes.delete(rel);
      got.print.delete(rel);
      got.mtimes.delete(rel);
    }
    expected.hardlinks = [];
    assertSameState(expected, got, "the undamaged files");
  });
});

describe("a lost connection during a backup", () => {
  const connectionLost = (operation: MemoryOperation, path: string) =>
    new StorageError("CONNECTION", `Injected: connection lost during ${operation} "${path}".`);

  it("is retried: the backup completes, restores exactly, and check is clean", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-conn-");
    t.after(cleanup);
    const src = join(work, "src");
    await bigSourceSmall(src);
    const server = await smallPackMemoryRepo();
    // Each object's operations fail on their first attempt or two, chosen by its name: never
    // more often in a row than the retries allow, whatever the order of concurrent uploads.
    // (Directories are spared: faults-and-races.test.ts has what a failed stat of one does.)
    const attempts = new Map<string, number>();
    let fired = 0;
    server.fault = (operation, path) => {
      const dir = path.split("/")[2] ?? "";
      const name = basename(path).replace(/^\.(.*)\.ferry-tmp-.*$/, "$1");
      const key = `${operation} ${path.replace(/\.ferry-tmp-.*$/, "")}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const h = Number.parseInt(name.slice(0, 2), 16);
      const fail =
        (operation === "write" && dir === "data" && h % 3 === 0 && attempt === 1) ||
        (operation === "write" && dir === "data" && h % 7 === 1 && attempt <= 2) ||
        (operation === "stat" &&
          dir === "data" &&
          name.length === 64 &&
          h % 5 === 2 &&
          attempt === 1) ||
        (operation === "rename" && dir === "index" && h % 4 === 0 && attempt === 1) ||
        (operation === "write" && dir === "snapshots" && attempt === 1) ||
        (operation === "list" && dir === "index" && attempt === 2) ||
        (operation === "read" && dir === "index" && h % 2 === 0 && attempt === 1) ||
        (operation === "read" && dir === "snapshots" && attempt === 1) ||
        (operation === "read" && dir === "data" && h % 4 === 1 && attempt === 1);
      if (!fail) return undefined;
      fired++;
      return connectionLost(operation, path);
    };
    const repo = await reopen(server);
    const first = await backup(repo, { paths: [src], workers: 2 });
    await writeFile(join(src, "late.bin"), randomBytes(500_000));
    const second = await backup(await reopen(server), { paths: [src], workers: 2 });
    assert.equal(second.snapshot.parent, first.id);
    const reader = await reopen(server);
    await reader.loadIndex();
    await assertRestores(reader, second, src, join(work, "restored"));
    t.diagnostic(`${fired} operations failed with a lost connection`);
    assert.ok(fired >= 10, `only ${fired} faults fired`);
    server.fault = undefined;
    const report = await check(await reopen(server), { readData: true });
    assertClean(report);
    assert.deepEqual(report.warnings, []);
  });

  it("for longer than the retries: the backup fails, the next one reuses what was stored", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-conn-");
    t.after(cleanup);
    const src = join(work, "src");
    await bigSourceSmall(src);
    const server = await smallPackMemoryRepo();
    let packs = 0;
    server.fault = (operation, path) => {
      if (operation !== "write" || !path.includes("/data/")) return undefined;
      // After five packs the server is gone for good.
      return ++packs > 5 ? connectionLost(operation, path) : undefined;
    };
    await assert.rejects(
      backup(await reopen(server), { paths: [src], workers: 2 }),
      (error) => error instanceof StorageError && error.code === "CONNECTION",
    );
    server.fault = undefined;
    const repo = await reopen(server);
    const indexedBefore = new Set((await readIndexState(repo)).locations.keys());
    assert.ok(indexedBefore.size >= 5);
    assert.deepEqual(await listLocks(repo), [], "the failed run released its lock");
    const saved = await backup(repo, { paths: [src], workers: 2 });
    const used = await reachable(repo, saved.snapshot.tree);
    const missing = [...used].filter((id) => !indexedBefore.has(id));
    assert.equal(saved.snapshot.summary?.blobsAdded, missing.length);
    assertClean(await check(await reopen(server), { readData: true }));
    await assertRestores(repo, saved, src, join(work, "restored"));
  });
});

/** About 8 MB: a file of several chunks and many small ones. */
async function bigSourceSmall(dir: string): Promise<void> {
  await mkdir(join(dir, "d/e"), { recursive: true });
  await writeFile(join(dir, "big.bin"), randomBytes(6 * 1024 * 1024));
  for (let i = 0; i < 60; i++) {
    await writeFile(join(dir, i % 2 === 0 ? "d" : "d/e", `f${i}`), randomBytes(30_000 + i));
  }
  await symlink("big.bin", join(dir, "link"));
}

describe("uploads interrupted by a crash", () => {
  it("leave no temporary objects behind once prune has run", async (t) => {
    const { dir: work, cleanup } = await tempDir("ferry-temp-");
    t.after(cleanup);
    const src = join(work, "src");
    const repoDir = join(work, "repo");
    await mkdir(src);
    await writeFile(join(src, "file"), randomBytes(50_000));
    const repo = await initLocal(t, repoDir);
    await backup(repo, { paths: [src] });
    // What a backup killed in the middle of uploading a pack leaves: its temporary object.
    const partial = join(repoDir, tempPath(packKey(randomBytes(32).toString("hex"))));
    await mkdir(dirname(partial), { recursive: true });
    await writeFile(partial, randomBytes(300_000));
    await prune(await openLocal(t, repoDir));
    assert.deepEqual(await tempFiles(repoDir), []);
  });
});
