import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isRepoError } from "../repo/errors.ts";
import { RepoLock } from "../repo/lock.ts";
import {
  content,
  newRepo,
  objects,
  openRepo,
  rawTree,
  recordMutations,
  storeSnapshot,
} from "../../test/repo/maintenance-fixture.ts";
import { forget } from "./forget.ts";
import { RetentionError } from "./retention.ts";

/** Four snapshots a day apart, oldest first, on host `a`; and one on host `b`. */
async function fourDays() {
  const { server, repo } = await newRepo();
  const ids: string[] = [];
  for (let day = 1; day <= 4; day++) {
    const files = new Map([[`day${day}`, content(100)]]);
    ids.push(await storeSnapshot(repo, files, `2024-01-0${day}T12:00:00.000Z`, { host: "a" }));
  }
  const other = await storeSnapshot(
    repo,
    new Map([["x", content(10)]]),
    "2024-01-01T00:00:00.000Z",
    {
      host: "b",
    },
  );
  return { server, repo, ids, other };
}

describe("forget", () => {
  it("removes the snapshots keepLast does not keep, per host and paths", async () => {
    const { server, repo, ids, other } = await fourDays();
    const report = await forget(repo, { keepLast: 2 });
    assert.equal(report.dryRun, false);
    assert.deepEqual(report.removed, [ids[0], ids[1]]);
    assert.deepEqual(
      report.groups.map((g) => [g.group.host, g.keep.map((k) => k.snapshot.id)]),
      [
        ["a", [ids[3], ids[2]]],
        ["b", [other]],
      ],
    );
    const [groupA] = report.groups;
    assert.ok(groupA);
    assert.deepEqual(groupA.keep[0]?.reasons, ["last snapshot"]);
    assert.equal(groupA.remove[0]?.entry.snapshot.host, "a");
    assert.deepEqual(objects(server, "snapshots"), [ids[2], ids[3], other].sort());
    assert.deepEqual(
      (await (await openRepo(server)).listSnapshots()).map((s) => s.id),
      [other, ids[2], ids[3]],
    );
    assert.deepEqual(objects(server, "locks"), []);
  });

  it("decides only over the hosts asked for, with groupBy ignoring hosts", async () => {
    const { server, repo, ids, other } = await fourDays();
    const report = await forget(repo, { keepLast: 1 }, { hosts: ["a"], groupBy: [] });
    assert.deepEqual(report.removed, [ids[0], ids[1], ids[2]]);
    assert.deepEqual(objects(server, "snapshots"), [ids[3], other].sort());
  });

  it("passes grouping and time-zone options to the policy", async () => {
    const { repo, other } = await fourDays();
    const report = await forget(repo, { keepDaily: 4 }, { groupBy: [], timeZone: "UTC" });
    assert.equal(report.groups.length, 1);
    // One group: host b's snapshot shares 2024-01-01 with ids[0] and is older, so it goes.
    assert.deepEqual(report.removed, [other]);
  });

  it("removes nothing in a dry run", async () => {
    const { server, repo, ids } = await fourDays();
    const before = rawTree(server);
    const { result, operations } = await recordMutations(server, () =>
      forget(repo, { keepLast: 1 }, { dryRun: true }),
    );
    assert.equal(result.dryRun, true);
    assert.deepEqual(result.removed, [ids[0], ids[1], ids[2]]);
    assert.deepEqual(operations, []);
    assert.deepEqual(rawTree(server), before);
  });

  it("refuses a policy that keeps nothing before touching the repository", async () => {
    const { server, repo } = await fourDays();
    const { operations } = await recordMutations(server, async () => {
      await assert.rejects(forget(repo, {}), RetentionError);
    });
    assert.deepEqual(operations, []);
    assert.deepEqual(objects(server, "locks"), []);
  });

  it("takes an exclusive lock: refuses while a backup runs", async () => {
    const { server, repo } = await fourDays();
    const backup = await RepoLock.acquire(await openRepo(server), false, "backup");
    try {
      await assert.rejects(forget(repo, { keepLast: 1 }), (error) => isRepoError(error, "LOCKED"));
    } finally {
      await backup.release();
    }
    assert.equal(objects(server, "snapshots").length, 5);
  });
});
