import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isRepoError } from "../repo/errors.ts";
import { packKey } from "../repo/layout.ts";
import { RepoLock } from "../repo/lock.ts";
import type { Repository } from "../repo/repository.ts";
import type { MemoryServer } from "../storage/adapters/memory.ts";
import {
  cloneServer,
  content,
  failNth,
  firstChunk,
  objects,
  openRepo,
  packNode,
  rawTree,
  readBack,
  recordMutations,
  scenario,
  storeSnapshot,
  type Files,
  type Scenario,
} from "../../test/repo/maintenance-fixture.ts";
import { check } from "./check.ts";
import { forget } from "./forget.ts";
import { readIndexState } from "./index-state.ts";
import { prune, type PruneReport } from "./prune.ts";

const JUNK = "ab".padEnd(64, "1");

/** The scenario with S1 forgotten and a pack left by an interrupted backup. */
async function afterForget(): Promise<Scenario> {
  const s = await scenario();
  const report = await forget(s.repo, { keepLast: 2 });
  assert.deepEqual(report.removed, [s.snapshots[0]]);
  await s.repo.storage.write(packKey(JUNK), Buffer.alloc(100, 1));
  return s;
}

/** Check finds nothing, and exactly these snapshots are there and read back byte for byte. */
async function assertIntact(server: MemoryServer, expected: readonly (readonly [string, Files])[]) {
  const repo = await openRepo(server);
  const report = await check(repo, { readData: true });
  assert.deepEqual(report.errors, []);
  assert.deepEqual(report.warnings, []);
  assert.deepEqual(objects(server, "snapshots"), expected.map(([id]) => id).sort());
  for (const [id, files] of expected) assert.deepEqual(await readBack(server, id), files);
}

/** The snapshots of the scenario numbered `kept`, with their files. */
function snapshotsOf(s: Scenario, ...kept: number[]): [string, Files][] {
  return kept.map((i) => [s.snapshots[i] ?? "", s.files[i] ?? new Map<string, Buffer>()]);
}

function sizeOf(server: MemoryServer, id: string): number {
  return packNode(server, id).data.length;
}

describe("prune", () => {
  it("after forget removes unused packs, repacks a half-used one, and keeps the rest exact", async () => {
    const s = await afterForget();
    const d1 = sizeOf(s.server, s.packs.d1);
    const t1 = sizeOf(s.server, s.packs.t1);
    const moved = s.repo.index.get(firstChunk(s.repo, s.content.a))?.length ?? 0;
    const phases = new Set<string>();
    // The repository object that wrote everything knows every blob in memory: repacking must
    // store them all the same.
    const report = await prune(s.repo, { onProgress: (p) => phases.add(p.phase) });

    assert.equal(report.dryRun, false);
    assert.equal(report.usedBlobs, 14);
    assert.deepEqual(report.removed, { packs: 1, bytes: t1 });
    assert.deepEqual(report.repacked, {
      packs: 1,
      bytes: d1,
      blobsMoved: 4,
      bytesMoved: 4 * moved,
    });
    assert.equal(report.written.packs, 1);
    assert.deepEqual(report.unreferenced, { packs: 1, bytes: 100 });
    assert.equal(report.kept.packs, 4);
    assert.equal(report.kept.unusedBytes, 0);
    assert.equal(report.missing, 0);
    assert.deepEqual(report.indexFiles, { removed: 3, written: 1 });
    assert.equal(report.bytesFreed, d1 + t1 + 100 - report.written.bytes);
    assert.deepEqual([...phases].sort(), [
      "index",
      "remove-index",
      "remove-packs",
      "repack",
      "snapshots",
      "trees",
      "write-index",
    ]);

    const data = objects(s.server, "data");
    assert.equal(data.length, 5);
    for (const gone of [s.packs.d1, s.packs.t1, JUNK]) assert.ok(!data.includes(gone));
    assert.equal(objects(s.server, "index").length, 1);
    assert.deepEqual(objects(s.server, "locks"), []);
    await assertIntact(s.server, snapshotsOf(s, 1, 2));

    // Nothing left to do: a second prune changes nothing but the lock.
    const before = rawTree(s.server);
    const again = await prune(await openRepo(s.server));
    assert.equal(again.removed.packs + again.repacked.packs + again.unreferenced.packs, 0);
    assert.deepEqual(again.indexFiles, { removed: 0, written: 0 });
    assert.deepEqual(rawTree(s.server), before);
  });

  it("keeps one copy of a blob stored twice", async () => {
    const s = await scenario();
    // A second writer that never loaded the index stores a's chunks again, beside e's.
    const other = await openRepo(s.server);
    const e = content(4096);
    const files = new Map([
      ["a", s.content.a],
      ["e", e],
    ]);
    const id = await storeSnapshot(other, files, "2024-01-04T00:00:00.000Z");
    const duplicated = firstChunk(s.repo, s.content.a);
    const locations = async () =>
      (await readIndexState(await openRepo(s.server))).locations.get(duplicated)?.length;
    assert.equal(await locations(), 2);

    const report = await prune(await openRepo(s.server));
    assert.equal(await locations(), 1);
    // Both packs are fully used but for the copy of a: whichever does not keep a's chunks has
    // half of its bytes unneeded and is repacked with its other four chunks only.
    assert.equal(report.repacked.packs, 1);
    assert.equal(report.repacked.blobsMoved, 4);
    await assertIntact(s.server, [...snapshotsOf(s, 0, 1, 2), [id, files]]);
  });

  it("survives a failure at every step it writes or removes, finishing on the next run", async () => {
    const base = await afterForget();
    const trial = cloneServer(base.server);
    const { operations } = await recordMutations(trial, async () => prune(await openRepo(trial)));
    // Repack (pack and its index), one new index, three old indexes and the repack's removed,
    // three packs removed; uploads are a write and a rename each.
    const steps = operations.map((o) => `${o.operation} ${o.path.replace(/^.*\//, "")}`);
    assert.ok(operations.length >= 13, steps.join("\n"));

    for (let n = 0; n < operations.length; n++) {
      const server = cloneServer(base.server);
      const fired = failNth(server, n);
      const failed = await prune(await openRepo(server)).then(
        () => false,
        () => true,
      );
      assert.ok(fired(), `step ${n} was reached`);
      // A failed mkdir of a directory that exists is accepted by the storage layer.
      if (operations[n]?.operation !== "mkdir") assert.ok(failed, `step ${n} (${steps[n] ?? ""})`);
      server.fault = undefined;
      // Sound at the point of failure already: at worst packs are left over, not missing.
      assert.deepEqual((await check(await openRepo(server))).errors, [], `after step ${n}`);
      await prune(await openRepo(server));
      await assertIntact(server, snapshotsOf(base, 1, 2));
      assert.equal(objects(server, "index").length, 1);
      assert.equal(objects(server, "data").length, 5);
    }
  });

  it("refuses while another lock is held, a running backup's included", async () => {
    const s = await afterForget();
    const before = rawTree(s.server);
    const backup = await RepoLock.acquire(await openRepo(s.server), false, "backup");
    try {
      await assert.rejects(prune(await openRepo(s.server)), (error) =>
        isRepoError(error, "LOCKED"),
      );
    } finally {
      await backup.release();
    }
    assert.deepEqual(rawTree(s.server), before);
  });

  it("plans the same in a dry run and writes nothing", async () => {
    const s = await afterForget();
    const twin = cloneServer(s.server);
    const before = rawTree(s.server);
    const { result: dry, operations } = await recordMutations(s.server, async () =>
      prune(await openRepo(s.server), { dryRun: true }),
    );
    assert.deepEqual(operations, []);
    assert.deepEqual(rawTree(s.server), before);
    const real = await prune(await openRepo(twin));
    const plan = (r: PruneReport) => ({ ...r, dryRun: 0, written: 0, bytesFreed: 0 });
    assert.deepEqual(plan(dry), plan(real));
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.written, { packs: 0, bytes: 0 });

    // On a read-only destination a dry run needs no lock; a real run is refused.
    const readOnly = await openRepo(s.server, { readOnly: true });
    assert.deepEqual(plan(await prune(readOnly, { dryRun: true })), plan(real));
    await assert.rejects(prune(readOnly), (error) => isRepoError(error, "INVALID"));
  });

  it("honours maxUnused and refuses values outside 0-1", async () => {
    const s = await afterForget();
    const repo = await openRepo(s.server);
    assert.equal((await prune(repo, { dryRun: true, maxUnused: 0.6 })).repacked.packs, 0);
    assert.equal((await prune(repo, { dryRun: true, maxUnused: 0.4 })).repacked.packs, 1);
    for (const maxUnused of [-0.1, 1.5, Number.NaN]) {
      await assert.rejects(prune(repo, { maxUnused }), (error) => isRepoError(error, "INVALID"));
    }
    assert.deepEqual(objects(s.server, "locks"), []);
  });

  it("refuses to run when data the snapshots use is missing, changing nothing", async () => {
    const s = await afterForget();
    const repo: Repository = await openRepo(s.server);
    await repo.storage.remove(packKey(s.packs.d3));
    const before = rawTree(s.server);
    await assert.rejects(prune(repo), (error) => {
      assert.ok(isRepoError(error, "DAMAGED"));
      assert.match(error.message, /4 blobs the snapshots use are in no stored pack/);
      return true;
    });
    assert.deepEqual(rawTree(s.server), before);

    // A damaged blob that would be copied into a new pack stops prune before it removes anything.
    const t = await afterForget();
    const at = t.repo.index.get(firstChunk(t.repo, t.content.a));
    assert.ok(at);
    const d1 = packNode(t.server, t.packs.d1);
    d1.data[at.offset + 30] = (d1.data[at.offset + 30] ?? 0) ^ 1;
    await assert.rejects(prune(await openRepo(t.server)), (error) => {
      assert.ok(isRepoError(error, "DAMAGED"));
      assert.match(error.message, /prune stopped before removing anything/);
      return true;
    });
    for (const pack of Object.values(t.packs)) assert.ok(objects(t.server, "data").includes(pack));
  });

  it("drops a missing pack nothing needs from the index", async () => {
    const s = await afterForget();
    await s.repo.storage.remove(packKey(s.packs.t1));
    const report = await prune(await openRepo(s.server));
    assert.equal(report.missing, 1);
    assert.equal(report.removed.packs, 0);
    await assertIntact(s.server, snapshotsOf(s, 1, 2));
  });
});
