import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, chown, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RepoLock } from "../repo/lock.ts";
import { Repository } from "../repo/repository.ts";
import { openStorage } from "../storage/open.ts";
import { parseDestination } from "../storage/url.ts";
import { PASSWORD, sandbox, type Run, type Sandbox } from "./cli-test-helpers.ts";

let box: Sandbox;

function ok(run: Run): Run {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

before(async () => {
  box = await sandbox();
});
after(() => box.remove());

/** Recursively gives a tree to a user. */
async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if (!(await stat(path)).isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid, gid);
}

describe("an incomplete backup", () => {
  it("saves the snapshot, names the unreadable file, and exits 3", async () => {
    const root = join(box.dir, "incomplete");
    const src = join(root, "src");
    await mkdir(src, { recursive: true });
    await writeFile(join(src, "fine.txt"), "readable\n");
    await writeFile(join(src, "secret.txt"), "nobody may read this\n");
    // Root reads every file, so a root test runs ferry as nobody, who cannot read secret.txt.
    const asRoot = process.getuid?.() === 0;
    const user = asRoot ? { uid: 65534, gid: 65534 } : {};
    if (asRoot) {
      await chmod(box.dir, 0o711);
      await chownTree(root, 65534, 65534);
    }
    await chmod(join(src, "secret.txt"), 0o000);
    const env = { FERRY_CACHE: join(root, "cache") };
    const dest = join(root, "repo");
    ok(await box.ferry(["init", "-d", dest], { env, ...user }));
    const run = await box.ferry(["backup", src, "-d", dest], { env, ...user });
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /warning: .*secret\.txt: cannot read/);
    assert.match(run.stderr, /1 item could not be read/);
    assert.match(run.stdout, /Snapshot [0-9a-f]{8} saved/);
    const listing = ok(await box.ferry(["ls", `latest:${src}`, "-d", dest], { env, ...user }));
    assert.equal(listing.stdout, `${join(src, "fine.txt")}\n`);
    const table = ok(await box.ferry(["snapshots", "-d", dest], { env, ...user }));
    assert.match(table.stdout, /^[0-9a-f]{8}\* /m, "marked incomplete");
    const lines = (await box.ferry(["backup", src, "-d", dest, "--json"], { env, ...user })).stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; path?: string; incomplete?: boolean });
    assert.ok(lines.some((l) => l.type === "warning" && l.path?.endsWith("secret.txt")));
    assert.equal(lines.find((l) => l.type === "summary")?.incomplete, true);
  });
});

describe("locks", () => {
  let dest: string;

  before(async () => {
    dest = join(box.dir, "locked");
    ok(await box.ferry(["init", "-d", dest]));
  });

  async function openRepo(): Promise<Repository> {
    const storage = await openStorage(parseDestination(dest).settings);
    return Repository.open(storage, PASSWORD, { cacheRoot: null });
  }

  it("exits 11 while another process holds an exclusive lock; unlock --remove-all clears it", async () => {
    const repo = await openRepo();
    const lock = await RepoLock.acquire(repo, true, "test");
    try {
      const run = await box.ferry(["backup", box.dir, "-d", dest, "--exclude", "*"]);
      assert.equal(run.code, 11, run.stderr);
      assert.match(run.stderr, /^ferry: The repository is locked: an exclusive lock for test/);
      const kept = ok(await box.ferry(["unlock", "-d", dest]));
      assert.match(kept.stdout, /No stale locks to remove/);
      assert.match(kept.stdout, /1 live lock remains/);
      const removed = JSON.parse(
        ok(await box.ferry(["unlock", "--remove-all", "-d", dest, "--json"])).stdout,
      ) as { removed: string[]; remaining: number };
      assert.equal(removed.removed.length, 1);
      assert.equal(removed.remaining, 0);
    } finally {
      await lock.release();
      await repo.storage.close();
    }
  });

  it("unlock removes a stale lock", async () => {
    const repo = await openRepo();
    const lock = await RepoLock.acquire(repo, false, "stale test", {
      leaseMs: 1,
      refreshMs: 3_600_000,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const run = ok(await box.ferry(["unlock", "-d", dest]));
      assert.match(run.stdout, /Removed 1 lock:\n {2}a shared lock for stale test .*lease expired/);
    } finally {
      await lock.release();
      await repo.storage.close();
    }
  });
});

describe("damaged data", () => {
  let dest: string;
  let src: string;

  before(async () => {
    dest = join(box.dir, "damaged");
    src = join(box.dir, "damaged-src");
    await mkdir(src);
    await writeFile(join(src, "data.bin"), randomBytes(300_000));
    await writeFile(join(src, "small.txt"), "small\n");
    ok(await box.ferry(["init", "-d", dest]));
    ok(await box.ferry(["backup", src, "-d", dest]));
    // The largest pack holds data.bin; one flipped byte in its middle breaks that blob.
    const packs: { path: string; size: number }[] = [];
    for (const dir of await readdir(join(dest, "data"))) {
      for (const name of await readdir(join(dest, "data", dir))) {
        const path = join(dest, "data", dir, name);
        packs.push({ path, size: (await stat(path)).size });
      }
    }
    const largest = packs.sort((a, b) => b.size - a.size)[0];
    assert.ok(largest !== undefined && largest.size > 250_000);
    const bytes = await readFile(largest.path);
    bytes[100_000] = (bytes[100_000] ?? 0) ^ 0xff;
    await writeFile(largest.path, bytes);
  });

  it("check --read-data exits 4 naming the pack, the snapshot and the file", async () => {
    const run = await box.ferry(["check", "--read-data", "-d", dest]);
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stdout, /1 problem found/);
    assert.match(run.stdout, /snapshot [0-9a-f]{8}: 1 path/);
    assert.ok(run.stdout.includes(join(src, "data.bin")));
    const report = JSON.parse(
      (await box.ferry(["check", "--read-data", "-d", dest, "--json"])).stdout,
    ) as { ok: boolean; errors: { affected: { paths: string[] }[] }[] };
    assert.equal(report.ok, false);
    assert.deepEqual(report.errors[0]?.affected[0]?.paths, [join(src, "data.bin")]);
  });

  it("check without --read-data sees nothing wrong (sizes are intact)", async () => {
    ok(await box.ferry(["check", "-d", dest]));
  });

  it("restore writes what it can and exits 4 for the damaged file", async () => {
    const target = join(box.dir, "damaged-restore");
    const run = await box.ferry(["restore", `latest:${src}`, "--target", target, "-d", dest]);
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /1 file could not be restored because the repository is damaged/);
    assert.equal(await readFile(join(target, "small.txt"), "utf8"), "small\n");
  });
});
