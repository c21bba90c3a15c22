import assert from "node:assert/strict";
import { mkdir, readFile, readdir, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PASSWORD, sandbox, type Run, type Sandbox } from "./cli-test-helpers.ts";

let box: Sandbox;
let repo: string;
let src: string;

/** Runs ferry against the shared repository. */
function ferry(args: readonly string[], env: Record<string, string | undefined> = {}) {
  return box.ferry([...args, "-d", repo], { env });
}

function ok(run: Run): Run {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.ok(!run.stdout.includes(PASSWORD) && !run.stderr.includes(PASSWORD), "password printed");
  return run;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- callers name the shape they expect
function json<T>(run: Run): T {
  return JSON.parse(ok(run).stdout) as T;
}

function jsonLines(run: Run): { type: string; [key: string]: unknown }[] {
  return ok(run)
    .stdout.trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { type: string });
}

interface SnapshotJson {
  id: string;
  shortId: string;
  tags: string[];
  paths: string[];
  host: string;
}

before(async () => {
  box = await sandbox();
  repo = join(box.dir, "repo");
  src = join(box.dir, "src");
  await mkdir(join(src, "docs", "old"), { recursive: true });
  await writeFile(join(src, "readme.txt"), "hello\n");
  await writeFile(join(src, "docs", "a.md"), "# a\n");
  await writeFile(join(src, "docs", "old", "b.md"), "# b\n");
  await writeFile(join(src, "skip.tmp"), "temporary\n");
  await symlink("readme.txt", join(src, "link"));
  ok(await ferry(["init"]));
});
after(() => box.remove());

describe("ferry init", () => {
  it("prints the id and the lost-password reminder, then refuses a second init", async () => {
    const other = join(box.dir, "other");
    const first = ok(await box.ferry(["init", "-d", other]));
    assert.match(first.stdout, /Created repository [0-9a-f]{8} at /);
    assert.match(first.stdout, /lost password means lost/i);
    const again = await box.ferry(["init", "-d", other]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^ferry: A repository already exists/);
  });

  it("prints JSON with --json and takes the destination from FERRY_DESTINATION", async () => {
    const dest = join(box.dir, "by-env");
    const out = json<{ id: string; destination: string }>(
      await box.ferry(["init", "--json"], { env: { FERRY_DESTINATION: dest } }),
    );
    assert.match(out.id, /^[0-9a-f]{64}$/);
    assert.equal(out.destination, dest);
  });

  it("exits 2 naming the three ways when there is no password and no terminal", async () => {
    const run = await box.ferry(["init", "-d", join(box.dir, "nopass")], {
      env: { FERRY_PASSWORD: undefined },
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /FERRY_PASSWORD/);
    assert.match(run.stderr, /--password-file/);
    assert.match(run.stderr, /--password-command/);
  });

  it("exits 2 without a destination", async () => {
    const run = await box.ferry(["snapshots"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--destination/);
  });
});

describe("opening a repository", () => {
  it("exits 10 when there is no repository", async () => {
    const run = await box.ferry(["snapshots", "-d", join(box.dir, "empty")]);
    assert.equal(run.code, 10);
    assert.match(run.stderr, /^ferry: There is no ferry repository/);
  });

  it("exits 12 for a wrong password, without echoing it", async () => {
    const run = await ferry(["snapshots"], { FERRY_PASSWORD: "wrong-horse-1234" });
    assert.equal(run.code, 12);
    assert.match(run.stderr, /password opens none/);
    assert.doesNotMatch(run.stderr + run.stdout, /wrong-horse-1234/);
  });

  it("takes the password from --password-file and --password-command", async () => {
    const file = join(box.dir, "pass");
    await writeFile(file, `${PASSWORD}\n`);
    const env = { FERRY_PASSWORD: undefined };
    ok(await ferry(["snapshots", "--password-file", file], env));
    ok(await ferry(["snapshots", "--password-command", `cat '${file}'`], env));
    const failing = await ferry(["snapshots", "--password-command", "exit 7"], env);
    assert.equal(failing.code, 2);
    assert.match(failing.stderr, /exit status 7/);
    const both = await ferry(["snapshots", "--password-file", file, "--password-command", "x"]);
    assert.equal(both.code, 2);
  });

  it("prefers --password-file over FERRY_PASSWORD", async () => {
    const file = join(box.dir, "wrong-pass");
    await writeFile(file, "not-it\n");
    const run = await ferry(["snapshots", "--password-file", file]);
    assert.equal(run.code, 12);
  });

  it("exits 13 when a read-only destination refuses a write", async () => {
    const run = await ferry(["backup", src, "--set", "readOnly=true"]);
    assert.equal(run.code, 13, run.stderr);
    assert.match(run.stderr, /^ferry: .*read-only/);
  });
});

describe("backup and browsing", () => {
  let first: string;
  let second: string;

  before(async () => {
    ok(await ferry(["backup", src, "--exclude", "*.tmp", "--tag", "one"]));
    await writeFile(join(src, "readme.txt"), "hello again\n");
    await writeFile(join(src, "docs", "new.md"), "new\n");
    const later = new Date(Date.now() + 5000);
    await utimes(join(src, "readme.txt"), later, later);
    const lines = jsonLines(await ferry(["backup", src, "--exclude", "*.tmp", "--json"]));
    const summary = lines.find((l) => l.type === "summary");
    assert.ok(summary);
    assert.equal(summary.filesNew, 1);
    assert.equal(summary.filesChanged, 1);
    assert.equal(summary.filesUnmodified, 2);
    assert.ok(
      lines.some((l) => l.type === "progress"),
      "at least one progress line",
    );
    const list = json<SnapshotJson[]>(await ferry(["snapshots", "--json"]));
    assert.equal(list.length, 2);
    first = (list[0] as SnapshotJson).id;
    second = (list[1] as SnapshotJson).id;
  });

  it("prints a summary with new, changed and unmodified files and the snapshot id", async () => {
    await writeFile(join(src, "docs", "third.md"), "3\n");
    const run = ok(await ferry(["backup", src, "--exclude", "*.tmp", "--tag", "three"]));
    assert.match(run.stdout, /Files: +1 new, 0 changed, 4 unmodified/);
    assert.match(run.stdout, /Added: /);
    assert.match(run.stdout, /Snapshot [0-9a-f]{8} saved/);
  });

  it("lists snapshots as a table and filters them by tag", async () => {
    const table = ok(await ferry(["snapshots"]));
    assert.match(table.stdout, /^ID +Time +Host +Tags +Paths +Size/);
    assert.ok(table.stdout.includes(first.slice(0, 8)));
    assert.ok(table.stdout.includes(src));
    const tagged = json<SnapshotJson[]>(await ferry(["snapshots", "--tag", "one", "--json"]));
    assert.deepEqual(
      tagged.map((s) => s.id),
      [first],
    );
    const none = json<SnapshotJson[]>(await ferry(["snapshots", "--host", "nohost", "--json"]));
    assert.equal(none.length, 0);
  });

  it("lists a directory, long and recursive, and excluded files are absent", async () => {
    const short = ok(await ferry(["ls", `${first}:${src}`]));
    assert.deepEqual(short.stdout.trim().split("\n"), [
      join(src, "docs"),
      `${join(src, "link")} -> readme.txt`,
      join(src, "readme.txt"),
    ]);
    const long = ok(await ferry(["ls", `${first.slice(0, 8)}:${src}`, "-l"]));
    assert.match(long.stdout, /^drwx.* \d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*\/docs$/m);
    assert.match(long.stdout, /^-rw.* 6 .*\/readme\.txt$/m);
    const all = ok(await ferry(["ls", `${first}:${src}`, "--recursive"]));
    assert.ok(all.stdout.includes(join(src, "docs", "old", "b.md")));
    assert.ok(!all.stdout.includes("skip.tmp"));
    const entries = json<{ path: string; type: string; size: number }[]>(
      await ferry(["ls", `latest:${join(src, "readme.txt")}`, "--json"]),
    );
    assert.deepEqual(
      entries.map((e) => [e.path, e.type, e.size]),
      [[join(src, "readme.txt"), "file", 12]],
    );
  });

  it("exits 1 for a path not in the snapshot and 2 for a malformed id", async () => {
    const missing = await ferry(["ls", `latest:${src}/nope`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not in the snapshot/);
    const bad = await ferry(["ls", "xyz"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a snapshot id/);
  });

  it("finds files by pattern in every snapshot or in one", async () => {
    const run = ok(await ferry(["find", "*.md"]));
    const lines = run.stdout.trim().split("\n");
    assert.ok(lines.some((l) => l.startsWith(first.slice(0, 8)) && l.endsWith("/docs/a.md")));
    assert.ok(lines.some((l) => l.startsWith(second.slice(0, 8)) && l.endsWith("/docs/new.md")));
    assert.ok(!lines.some((l) => l.startsWith(first.slice(0, 8)) && l.endsWith("/new.md")));
    const one = json<{ snapshot: string; path: string }[]>(
      await ferry(["find", "new.md", "--snapshot", second.slice(0, 8), "--json"]),
    );
    assert.deepEqual(
      one.map((m) => [m.snapshot, m.path]),
      [[second, join(src, "docs", "new.md")]],
    );
  });

  it("shows the differences between two snapshots with totals", async () => {
    const run = ok(await ferry(["diff", first, second]));
    assert.match(run.stdout, new RegExp(`^\\+  ${join(src, "docs", "new.md")}$`, "m"));
    assert.match(run.stdout, new RegExp(`^M  ${join(src, "readme.txt")}$`, "m"));
    assert.match(run.stdout, /^Added: +1 file, 0 dirs, 0 others, 4 B$/m);
    const back = json<{ changes: { change: string; path: string }[] }>(
      await ferry(["diff", second, first, "--json"]),
    );
    assert.ok(back.changes.some((c) => c.change === "-" && c.path.endsWith("/new.md")));
  });

  it("reports repository statistics", async () => {
    const run = ok(await ferry(["stats"]));
    assert.match(run.stdout, /^Snapshots: +3$/m);
    assert.match(run.stdout, /^Deduplication: /m);
    const stats = json<{ snapshots: number; packs: number; dataBlobs: number }>(
      await ferry(["stats", "--json"]),
    );
    assert.equal(stats.snapshots, 3);
    assert.ok(stats.packs > 0 && stats.dataBlobs > 0);
  });

  it("restores a snapshot path into a directory, then leaves unchanged files alone", async () => {
    const target = join(box.dir, "restored");
    const run = ok(await ferry(["restore", `${second}:${src}`, "--target", target]));
    assert.match(run.stdout, /^Restored: /m);
    assert.equal(await readFile(join(target, "readme.txt"), "utf8"), "hello again\n");
    assert.equal(await readFile(join(target, "docs", "old", "b.md"), "utf8"), "# b\n");
    assert.deepEqual((await readdir(target)).sort(), ["docs", "link", "readme.txt"]);
    const again = jsonLines(
      await ferry(["restore", `${second}:${src}`, "--target", target, "--json"]),
    );
    const summary = again.find((l) => l.type === "summary");
    assert.ok(summary);
    assert.equal(summary.files, 0);
    assert.ok(Number(summary.skipped) >= 4);
  });

  it("restores only what --include selects", async () => {
    const target = join(box.dir, "included");
    ok(await ferry(["restore", `${second}:${src}`, "--target", target, "--include", "*.md"]));
    assert.deepEqual((await readdir(target)).sort(), ["docs"]);
    assert.deepEqual((await readdir(join(target, "docs"))).sort(), ["a.md", "new.md", "old"]);
  });

  it("dumps a file to stdout and a directory as tar", async () => {
    const file = ok(await ferry(["dump", first, join(src, "readme.txt")]));
    assert.equal(file.stdout, "hello\n");
    const tar = await box.ferry(["dump", "latest", join(src, "docs"), "-d", repo]);
    assert.equal(tar.code, 0, tar.stderr);
    assert.ok(tar.stdout.includes(`${join(src, "docs").slice(1)}/a.md`));
  });

  it("backs up standard input as one file", async () => {
    const run = await box.ferry(
      ["backup", "--stdin", "--stdin-filename", "dump.sql", "--tag", "db", "-d", repo],
      { input: "CREATE TABLE t;\n" },
    );
    ok(run);
    const dump = ok(await ferry(["dump", "latest", "/dump.sql"]));
    assert.equal(dump.stdout, "CREATE TABLE t;\n");
  });

  it("refuses bad backup flags with exit 2", async () => {
    assert.equal((await ferry(["backup"])).code, 2);
    assert.equal((await ferry(["backup", src, "--exclude-larger-than", "lots"])).code, 2);
    assert.equal((await ferry(["backup", src, "--parent", "abcd", "--force"])).code, 2);
    const missing = await ferry(["backup", join(src, "nope")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
  });
});

describe("forget, prune and check", () => {
  it("shows kept snapshots with reasons and removed ones in a dry run, removing nothing", async () => {
    const before = json<SnapshotJson[]>(await ferry(["snapshots", "--json"]));
    const run = ok(await ferry(["forget", "--keep-last", "1", "--dry-run"]));
    assert.match(run.stdout, /Keep 1 snapshot:/);
    assert.match(run.stdout, /last snapshot/);
    assert.match(run.stdout, /Would remove \d+ snapshots?:/);
    assert.match(run.stdout, /Dry run: /);
    const after = json<SnapshotJson[]>(await ferry(["snapshots", "--json"]));
    assert.equal(after.length, before.length);
  });

  it("refuses a policy that keeps nothing, and a bad duration", async () => {
    const none = await ferry(["forget"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /at least one --keep-/);
    const bad = await ferry(["forget", "--keep-within", "7x"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Invalid duration "7x"/);
  });

  it("removes snapshots and prunes their data, after which check finds no problem", async () => {
    const report = json<{
      removed: string[];
      groups: { keep: { reasons: string[] }[] }[];
      prune: { dryRun: boolean; bytesFreed: number };
    }>(await ferry(["forget", "--keep-last", "1", "--keep-tag", "db", "--prune", "--json"]));
    assert.ok(report.removed.length >= 2);
    assert.equal(report.prune.dryRun, false);
    const kept = report.groups.reduce((sum, g) => sum + g.keep.length, 0);
    const left = json<SnapshotJson[]>(await ferry(["snapshots", "--json"]));
    assert.equal(left.length, kept);
    const check = ok(await ferry(["check", "--read-data"]));
    assert.match(check.stdout, /No problems found/);
  });

  it("prune --dry-run changes nothing", async () => {
    const run = ok(await ferry(["prune", "--dry-run"]));
    assert.match(run.stdout, /Dry run: nothing was changed/);
    const parsed = json<{ dryRun: boolean }>(await ferry(["prune", "--dry-run", "--json"]));
    assert.equal(parsed.dryRun, true);
  });

  it("check --read-data-subset prints JSON, and a bad percentage is exit 2", async () => {
    const report = json<{ ok: boolean; errors: unknown[] }>(
      await ferry(["check", "--read-data-subset", "50%", "--json"]),
    );
    assert.equal(report.ok, true);
    assert.equal((await ferry(["check", "--read-data-subset", "150%"])).code, 2);
  });
});

describe("ferry key", () => {
  it("adds, lists, refuses to remove the current key, removes another, and changes a password", async () => {
    const second = join(box.dir, "second-pass");
    await writeFile(second, "second-password-99\n");
    const added = json<{ id: string }>(
      await ferry(["key", "add", "--new-password-file", second, "--json"]),
    );
    const keys = json<{ id: string; current: boolean }[]>(await ferry(["key", "list", "--json"]));
    assert.equal(keys.length, 2);
    const current = keys.find((k) => k.current);
    assert.ok(current && current.id !== added.id);
    const table = ok(await ferry(["key", "list"]));
    assert.match(table.stdout, new RegExp(`^\\* +${current.id.slice(0, 8)} `, "m"));

    const refused = await ferry(["key", "remove", current.id.slice(0, 8)]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is the one your password opened/);

    // The second password opens the repository and can remove the first key.
    ok(await ferry(["snapshots"], { FERRY_PASSWORD: "second-password-99" }));
    ok(
      await ferry(["key", "remove", current.id.slice(0, 8)], {
        FERRY_PASSWORD: "second-password-99",
      }),
    );
    assert.equal((await ferry(["snapshots"])).code, 12);

    // passwd: back to the original password.
    const back = join(box.dir, "back-pass");
    await writeFile(back, `${PASSWORD}\n`);
    const changed = ok(
      await ferry(["key", "passwd", "--new-password-file", back], {
        FERRY_PASSWORD: "second-password-99",
      }),
    );
    assert.match(changed.stdout, /Changed the password/);
    assert.equal((await ferry(["snapshots"], { FERRY_PASSWORD: "second-password-99" })).code, 12);
    ok(await ferry(["snapshots"]));
    assert.equal(json<unknown[]>(await ferry(["key", "list", "--json"])).length, 1);
  });
});
