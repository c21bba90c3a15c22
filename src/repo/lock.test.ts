import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryRepo } from "../../test/repo/helpers.ts";
import { fileKey } from "./layout.ts";
import { listLocks, RepoLock, unlock } from "./lock.ts";

describe("lock leases", () => {
  it("never revive a lease that lapsed before its refresh", async () => {
    const { repo } = await memoryRepo();
    let now = 1_000_000;
    const messages: string[] = [];
    const lock = await RepoLock.acquire(repo, false, "backup", {
      leaseMs: 1000,
      refreshMs: 3_600_000,
      now: () => now,
      onMessage: (m) => messages.push(m),
    });
    now += 500;
    await lock.refresh();
    lock.check();
    now += 2000; // a sleeping laptop: the lease ran out
    await lock.refresh();
    assert.ok(messages.some((m) => m.includes("lapsed")));
    now -= 1900; // even if the clock looked fine again
    assert.throws(
      () => {
        lock.check();
      },
      { code: "LOCKED" },
    );
    await lock.release();
  });

  it("lapse when another run removed the lock as stale", async () => {
    const { repo } = await memoryRepo();
    const lock = await RepoLock.acquire(repo, true, "prune", { refreshMs: 3_600_000 });
    const [entry] = await listLocks(repo);
    assert.ok(entry);
    await repo.storage.remove(fileKey("lock", entry.name));
    await lock.refresh();
    assert.throws(() => {
      lock.check();
    }, /another run removed it as stale/);
    assert.deepEqual(await listLocks(repo), []);
    await lock.release();
  });

  it("unlock keeps live and undecodable locks unless told to remove all", async () => {
    const { repo } = await memoryRepo();
    const live = await RepoLock.acquire(repo, false, "backup", { refreshMs: 3_600_000 });
    await repo.storage.write(fileKey("lock", "ab".repeat(32)), Buffer.from("not a lock"));
    assert.deepEqual(await unlock(repo, false), []);
    assert.equal((await listLocks(repo)).length, 2);
    assert.equal((await unlock(repo, true)).length, 2);
    await live.release();
  });
});
