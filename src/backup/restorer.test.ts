import assert from "node:assert/strict";
import { link, lstat, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { tempDir } from "../../test/repo/helpers.ts";
import {
  describeTree,
  dir,
  file,
  MTIME,
  noise,
  RepoBuilder,
  sha256,
  symlinkTo,
} from "./restore-fixtures.test-helper.ts";
import { restore, type RestoreOptions, type RestoreResult } from "./restorer.ts";

const BIG = noise(350 * 1024, 1);
const SHARED = noise(100 * 1024, 2);
const ODD = "naïve name\nwith newline";

/** A snapshot of /srv/www with one of everything, over several packs. */
async function site(options: { maxConnections?: number } = {}): Promise<{
  builder: RepoBuilder;
  snap: SnapshotEntry;
}> {
  const builder = await RepoBuilder.create(options);
  const snap = await builder.snapshot({
    srv: dir({
      www: dir(
        {
          "index.html": file("<h1>hello</h1>\n"),
          "big.bin": file(BIG),
          "run.sh": file("#!/bin/sh\n", { mode: 0o750, mtime: "1600000000000000001" }),
          "empty.txt": file(""),
          "empty dir": dir({}, { mode: 0o700, mtime: "1500000000500000000" }),
          [ODD]: file("unicode ✓"),
          rel: symlinkTo("index.html"),
          abs: symlinkTo("/etc/passwd"),
          dangling: symlinkTo("../nowhere/at all"),
          hard1: file("linked", { inode: 5, links: 2 }),
          sub: dir({ hard2: file("linked", { inode: 5, links: 2 }), "deep.txt": file("deep") }),
          dup1: file(SHARED),
          dup2: file(SHARED),
          twice: file(Buffer.concat([SHARED, SHARED])),
          fifo: { type: "fifo" },
        },
        { mode: 0o751 },
      ),
    }),
  });
  return { builder, snap };
}

async function run(
  builder: RepoBuilder,
  snap: SnapshotEntry,
  options: RestoreOptions,
): Promise<RestoreResult> {
  return restore(builder.repo, snap, options);
}

function mtimeClose(actual: bigint, expected: string, what: string): void {
  const diff = actual - BigInt(expected);
  assert.ok(diff < 1000n && diff > -1000n, `${what}: mtime ${actual} is not ${expected}`);
}

describe("restore", () => {
  it("restores contents, modes, mtimes, links, empty files and directories, odd names", async (t) => {
    const { builder, snap } = await site();
    const { dir: target, cleanup } = await tempDir();
    t.after(cleanup);
    const warnings: string[] = [];
    const result = await run(builder, snap, { target, onWarning: (m) => warnings.push(m) });
    const tree = await describeTree(target);
    const at = (rel: string) => {
      const entry = tree.get(rel === "" ? "srv/www" : `srv/www/${rel}`);
      assert.ok(entry, `srv/www/${rel} is missing`);
      return entry;
    };
    assert.equal(at("index.html").sha256, sha256("<h1>hello</h1>\n"));
    assert.equal(at("big.bin").sha256, sha256(BIG));
    assert.equal(at("dup1").sha256, sha256(SHARED));
    assert.equal(at("dup2").sha256, sha256(SHARED));
    assert.equal(at("twice").sha256, sha256(Buffer.concat([SHARED, SHARED])));
    assert.equal(at(ODD).sha256, sha256("unicode ✓"));
    assert.equal(at("empty.txt").size, 0);
    assert.equal(at("run.sh").mode, 0o750);
    assert.equal(at("index.html").mode, 0o644);
    mtimeClose(at("run.sh").mtimeNs, "1600000000000000001", "run.sh");
    mtimeClose(at("big.bin").mtimeNs, MTIME, "big.bin");
    assert.equal(at("empty dir").type, "dir");
    assert.equal(at("empty dir").mode, 0o700);
    mtimeClose(at("empty dir").mtimeNs, "1500000000500000000", "empty dir");
    // Directory metadata is applied after the contents, so writing them did not move it.
    assert.equal(at("").mode, 0o751);
    mtimeClose(at("").mtimeNs, MTIME, "www");
    mtimeClose(at("sub").mtimeNs, MTIME, "sub");
    assert.equal(at("rel").target, "index.html");
    assert.equal(at("abs").target, "/etc/passwd");
    assert.equal(at("dangling").target, "../nowhere/at all");
    mtimeClose(at("rel").mtimeNs, MTIME, "rel");
    assert.equal(at("hard1").ino, at("sub/hard2").ino);
    assert.equal(at("sub/hard2").sha256, sha256("linked"));
    assert.equal(tree.has("srv/www/fifo"), false);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /\/srv\/www\/fifo: not restored: .*fifo/);
    assert.deepEqual(result, {
      files: 10,
      dirs: 4,
      symlinks: 3,
      hardlinks: 1,
      bytes: 15 + 350 * 1024 + 10 + 11 + 6 + 4 + 4 * 100 * 1024,
      skipped: 0,
      warnings,
    });
  });

  it("restores a subtree's contents into the target, or a single file", async (t) => {
    const { builder, snap } = await site();
    const { dir: target, cleanup } = await tempDir();
    t.after(cleanup);
    await run(builder, snap, { target, path: "/srv/www/" });
    const tree = await describeTree(target);
    assert.equal(tree.get("index.html")?.sha256, sha256("<h1>hello</h1>\n"));
    assert.equal(tree.get("sub/deep.txt")?.sha256, sha256("deep"));
    assert.equal(tree.has("srv"), false);

    const { dir: single, cleanup: cleanupSingle } = await tempDir();
    t.after(cleanupSingle);
    const result = await run(builder, snap, { target: single, path: "/srv/www/sub/deep.txt" });
    assert.deepEqual([...(await describeTree(single)).keys()], ["deep.txt"]);
    assert.equal(result.files, 1);
    await assert.rejects(run(builder, snap, { target: single, path: "/srv/nope" }), {
      code: "NOT_FOUND",
    });
    await assert.rejects(run(builder, snap, { target: single, path: "/srv/www/rel/x" }), {
      code: "NOT_FOUND",
    });
  });

  it("includes and excludes by the backup pattern rules", async (t) => {
    const { builder, snap } = await site();
    const { dir: a, cleanup } = await tempDir();
    t.after(cleanup);
    await run(builder, snap, { target: a, include: ["*.txt"], exclude: ["/srv/www/sub"] });
    assert.deepEqual([...(await describeTree(a)).keys()], ["srv", "srv/www", "srv/www/empty.txt"]);

    const { dir: b, cleanup: cleanupB } = await tempDir();
    t.after(cleanupB);
    await run(builder, snap, {
      target: b,
      path: "/srv",
      include: ["www/sub", "index.html"],
      exclude: ["hard2"],
    });
    assert.deepEqual(
      [...(await describeTree(b)).keys()],
      ["www", "www/index.html", "www/sub", "www/sub/deep.txt"],
    );

    const { dir: c, cleanup: cleanupC } = await tempDir();
    t.after(cleanupC);
    const result = await run(builder, snap, { target: c, exclude: ["srv"] });
    assert.equal((await describeTree(c)).size, 0);
    assert.equal(result.files, 0);
  });

  it("overwrite if-changed replaces changed files and leaves identical ones alone", async (t) => {
    const { builder, snap } = await site();
    const { dir: target, cleanup } = await tempDir();
    t.after(cleanup);
    await run(builder, snap, { target, path: "/srv/www" });
    // Same size, other contents and mtime: replaced.
    await writeFile(join(target, "index.html"), "<h1>HELLO</h1>\n");
    // Same contents, other mtime: left alone, mtime put back.
    await utimes(join(target, "big.bin"), 1, 1);
    const bigIno = (await stat(join(target, "big.bin"))).ino;
    // Other size: replaced.
    await writeFile(join(target, "dup1"), "short");
    // A symlink where a file was: replaced by the file, the link's target untouched.
    const { dir: outside, cleanup: cleanupOutside } = await tempDir();
    t.after(cleanupOutside);
    await writeFile(join(outside, "victim"), "keep");
    await rm(join(target, "run.sh"));
    await symlink(join(outside, "victim"), join(target, "run.sh"));
    const result = await run(builder, snap, { target, path: "/srv/www" });
    assert.equal(await readFile(join(target, "index.html"), "utf8"), "<h1>hello</h1>\n");
    assert.equal((await stat(join(target, "big.bin"))).ino, bigIno);
    mtimeClose((await stat(join(target, "big.bin"), { bigint: true })).mtimeNs, MTIME, "big");
    assert.equal(sha256(await readFile(join(target, "dup1"))), sha256(SHARED));
    assert.equal((await lstat(join(target, "run.sh"))).isFile(), true);
    assert.equal(await readFile(join(outside, "victim"), "utf8"), "keep");
    assert.equal(result.files, 3);
    // Everything else was identical, symlinks and the hardlink included.
    assert.equal(result.skipped, 7 + 3 + 1);
    assert.equal(result.hardlinks, 0);
    assert.deepEqual(result.warnings.length, 1);
  });

  it("overwrite never skips existing files; always replaces even identical ones", async (t) => {
    const { builder, snap } = await site();
    const { dir: target, cleanup } = await tempDir();
    t.after(cleanup);
    await run(builder, snap, { target, path: "/srv/www" });
    await writeFile(join(target, "index.html"), "mine");
    const never = await run(builder, snap, { target, path: "/srv/www", overwrite: "never" });
    assert.equal(await readFile(join(target, "index.html"), "utf8"), "mine");
    assert.equal(never.files, 0);
    assert.equal(never.skipped, 10 + 3 + 1);
    assert.deepEqual(never.warnings.length, 1); // the fifo

    // A second name for the old inode shows whether the file was replaced or written through.
    const { dir: keep, cleanup: cleanupKeep } = await tempDir();
    t.after(cleanupKeep);
    await link(join(target, "big.bin"), join(keep, "old"));
    const always = await run(builder, snap, { target, path: "/srv/www", overwrite: "always" });
    assert.equal(await readFile(join(target, "index.html"), "utf8"), "<h1>hello</h1>\n");
    assert.notEqual((await stat(join(target, "big.bin"))).ino, (await stat(join(keep, "old"))).ino);
    assert.equal(sha256(await readFile(join(keep, "old"))), sha256(BIG));
    assert.equal(always.files, 10);
    assert.equal(always.symlinks, 3);
    assert.equal(always.hardlinks, 1);
    assert.equal(always.skipped, 0);
    const tree = await describeTree(target);
    assert.equal(tree.get("hard1")?.ino, tree.get("sub/hard2")?.ino);
  });

  it("works on one connection with worker threads, reports progress, and stops on abort", async (t) => {
    const { builder, snap } = await site({ maxConnections: 1 });
    const { dir: target, cleanup } = await tempDir();
    t.after(cleanup);
    const reports: { files: number; bytes: number; totalFiles: number; totalBytes: number }[] = [];
    await run(builder, snap, { target, workers: 2, onProgress: (p) => reports.push(p) });
    const last = reports.at(-1);
    assert.ok(last);
    assert.equal(last.files, last.totalFiles);
    assert.equal(last.totalFiles, 10);
    assert.equal(sha256(await readFile(join(target, "srv/www/big.bin"))), sha256(BIG));

    const { dir: other, cleanup: cleanupOther } = await tempDir();
    t.after(cleanupOther);
    await assert.rejects(
      run(builder, snap, { target: other, signal: AbortSignal.abort() }),
      (error: Error) => error.name === "AbortError",
    );
  });
});
