import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isRepoError } from "../repo/errors.ts";
import { fileKey, packKey } from "../repo/layout.ts";
import { RepoLock } from "../repo/lock.ts";
import {
  firstChunk,
  objects,
  openRepo,
  packNode,
  ROOT,
  scenario,
} from "../../test/repo/maintenance-fixture.ts";
import { check, type CheckProgress } from "./check.ts";
import { readIndexState } from "./index-state.ts";

describe("check", () => {
  it("finds nothing wrong in a sound repository, with and without reading data", async () => {
    const { repo } = await scenario();
    const phases = new Set<string>();
    const quick = await check(repo, {
      onProgress: (p: CheckProgress) => phases.add(p.phase),
    });
    assert.deepEqual(quick.errors, []);
    assert.deepEqual(quick.warnings, []);
    assert.deepEqual(
      { ...quick.stats, blobs: 0 },
      {
        indexFiles: 3,
        packs: 6,
        blobs: 0,
        snapshots: 3,
        trees: 4,
        dataBlobs: 16,
        unreferencedPacks: 0,
        packsRead: 0,
        bytesRead: 0,
      },
    );
    assert.deepEqual([...phases].sort(), ["index", "packs", "snapshots", "trees"]);
    const full = await check(repo, { readData: true });
    assert.deepEqual(full.errors, []);
    assert.equal(full.stats.packsRead, 6);
  });

  it("finds a flipped byte only when reading data, and names the files that use it", async () => {
    const s = await scenario();
    const at = s.repo.index.get(firstChunk(s.repo, s.content.a));
    assert.ok(at);
    const pack = packNode(s.server, s.packs.d1);
    pack.data[at.offset + 20] = (pack.data[at.offset + 20] ?? 0) ^ 1;

    assert.deepEqual((await check(s.repo)).errors, []);
    for (const options of [{ readData: true }, { readDataSubset: 100 }]) {
      const report = await check(s.repo, options);
      assert.equal(report.errors.length, 1);
      const [problem] = report.errors;
      assert.equal(problem?.object, "pack");
      assert.equal(problem.id, s.packs.d1);
      assert.match(problem.message, /1 of 8 blobs fail verification/);
      assert.deepEqual(problem.affected, [
        { snapshot: s.snapshots[0], paths: ["/dir/a"] },
        { snapshot: s.snapshots[1], paths: ["/a2"] },
      ]);
    }
    // A subset of 0 % reads nothing.
    assert.deepEqual((await check(s.repo, { readDataSubset: 0 })).errors, []);
  });

  it("finds a truncated pack from its size alone, naming only what the cut lost", async () => {
    const s = await scenario();
    const node = packNode(s.server, s.packs.d1);
    // Keep b's first two chunks (about 1 KiB each, sealed) and drop everything after them.
    const keep = s.repo.index.get(firstChunk(s.repo, s.content.b));
    assert.ok(keep);
    node.data = node.data.subarray(0, 2 * keep.length + 10);
    const report = await check(s.repo);
    assert.equal(report.errors.length, 1);
    const [problem] = report.errors;
    assert.equal(problem?.id, s.packs.d1);
    assert.match(problem.message, /is truncated/);
    assert.deepEqual(problem.affected, [
      { snapshot: s.snapshots[0], paths: ["/b", "/dir/a"] },
      { snapshot: s.snapshots[1], paths: ["/a2"] },
    ]);

    // Losing only the header loses no blob: the problem stands, nobody is affected.
    const t = await scenario();
    const tail = packNode(t.server, t.packs.d3);
    tail.data = tail.data.subarray(0, tail.data.length - 5);
    const [headerOnly, ...rest] = (await check(t.repo, { readData: true })).errors;
    assert.deepEqual(rest, []);
    assert.equal(headerOnly?.id, t.packs.d3);
    assert.deepEqual(headerOnly.affected, []);
  });

  it("reports a missing pack with the snapshots and files it takes", async () => {
    const s = await scenario();
    await s.repo.storage.remove(packKey(s.packs.d3));
    const report = await check(s.repo, { readData: true });
    const [missing, ...rest] = report.errors;
    assert.deepEqual(rest, []);
    assert.ok(missing);
    assert.equal(missing.object, "pack");
    assert.match(missing.message, /missing from data/);
    assert.deepEqual(missing.affected, [{ snapshot: s.snapshots[2], paths: ["/d"] }]);

    // A missing tree pack takes whole directories.
    const t = await scenario();
    await t.repo.storage.remove(packKey(t.packs.t1));
    const [tree, ...others] = (await check(t.repo)).errors;
    assert.deepEqual(others, []);
    assert.equal(tree?.id, t.packs.t1);
    assert.deepEqual(tree.affected, [{ snapshot: t.snapshots[0], paths: ["/"] }]);
  });

  it("reports blobs missing from the index, and the pack left unreferenced as a warning", async () => {
    const s = await scenario();
    const state = await readIndexState(s.repo);
    const kept = [...state.packs.values()].filter((p) => p.id !== s.packs.d2);
    await s.repo.writeIndex(kept, state.names);
    for (const name of state.names) await s.repo.removeIndex(name);

    const report = await check(s.repo);
    assert.deepEqual(report.warnings.length, 1);
    assert.match(report.warnings[0] ?? "", new RegExp(`Pack ${s.packs.d2} .* unreferenced`));
    assert.equal(report.stats.unreferencedPacks, 1);
    assert.equal(report.errors.length, 4);
    for (const problem of report.errors) {
      assert.equal(problem.object, "blob");
      assert.match(problem.message, /not in any index/);
      assert.deepEqual(problem.affected, [{ snapshot: s.snapshots[1], paths: ["/c"] }]);
    }
  });

  it("reports damaged index and snapshot files", async () => {
    const s = await scenario();
    const indexes = objects(s.server, "index");
    assert.equal(indexes.length, 3);
    // Which index file lists S3's packs is found by elimination.
    const state = await readIndexState(s.repo);
    const third = indexes.find((name) =>
      state.files.get(name)?.packs.some((p) => p.id === s.packs.t3),
    );
    assert.ok(third);
    const node = s.server.nodes.get(`${ROOT}/${fileKey("index", third)}`);
    assert.ok(node);
    node.data[40] = (node.data[40] ?? 0) ^ 1;
    const snap = s.server.nodes.get(`${ROOT}/${fileKey("snapshot", s.snapshots[0])}`);
    assert.ok(snap);
    snap.data[40] = (snap.data[40] ?? 0) ^ 1;

    const report = await check(s.repo);
    const summary = report.errors.map((e) => [e.object, e.id]);
    assert.deepEqual(summary, [
      ["index", third],
      ["snapshot", s.snapshots[0]],
      ["tree", (await s.repo.loadSnapshot(s.snapshots[2])).tree],
    ]);
    assert.deepEqual(report.errors[1]?.affected, [{ snapshot: s.snapshots[0], paths: [] }]);
    assert.deepEqual(report.errors[2]?.affected, [{ snapshot: s.snapshots[2], paths: ["/"] }]);
    // S3's packs are now listed by no readable index.
    assert.equal(report.warnings.length, 2);
    assert.match(report.warnings[0] ?? "", /may also be listed by a damaged index file/);
  });

  it("notes a pack left by an interrupted backup without calling it an error", async () => {
    const s = await scenario();
    const id = "ab".padEnd(64, "0");
    await s.repo.storage.write(packKey(id), Buffer.alloc(100));
    const report = await check(s.repo, { readData: true });
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, [
      `Pack ${id} (100 bytes) is not in any index: unreferenced (left by an interrupted backup; prune removes them).`,
    ]);
  });

  it("takes a shared lock: runs beside a backup, refuses during a prune, none when read-only", async () => {
    const s = await scenario();
    const backupLock = await RepoLock.acquire(s.repo, false, "backup");
    try {
      assert.deepEqual((await check(s.repo)).errors, []);
    } finally {
      await backupLock.release();
    }
    const pruneLock = await RepoLock.acquire(s.repo, true, "prune");
    try {
      await assert.rejects(check(s.repo), (error) => isRepoError(error, "LOCKED"));
      // Read-only: no lock is written, so none is in the way either.
      const readOnly = await openRepo(s.server, { readOnly: true });
      const writes: string[] = [];
      s.server.fault = (operation, path) => {
        if (!["dial", "stat", "list", "read"].includes(operation)) writes.push(path);
        return undefined;
      };
      assert.deepEqual((await check(readOnly, { readData: true })).errors, []);
      s.server.fault = undefined;
      assert.deepEqual(writes, []);
    } finally {
      await pruneLock.release();
    }
  });

  it("refuses a read-data subset outside 0-100 before touching the repository", async () => {
    const s = await scenario();
    for (const subset of [-1, 101, Number.NaN]) {
      await assert.rejects(check(s.repo, { readDataSubset: subset }), (error) =>
        isRepoError(error, "INVALID"),
      );
    }
    assert.deepEqual(objects(s.server, "locks"), []);
  });

  it("stops when aborted", async () => {
    const s = await scenario();
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(check(s.repo, { signal: controller.signal }), { name: "AbortError" });
    assert.deepEqual(objects(s.server, "locks"), []);
  });
});
