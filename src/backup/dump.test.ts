import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import type { Repository } from "../repo/repository.ts";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { tempDir } from "../../test/repo/helpers.ts";
import { dump } from "./dump.ts";
import {
  describeTree,
  dir,
  file,
  noise,
  RepoBuilder,
  sha256,
  symlinkTo,
} from "./restore-fixtures.test-helper.ts";
import { restore } from "./restorer.ts";

const BIG = noise(250 * 1024, 4);
const LONG = `${"long-directory-name-".repeat(6)}/${"x".repeat(120)}.txt`;

/** Dumps into memory through a slow sink with a small buffer, so backpressure is exercised. */
async function dumpBytes(repo: Repository, snap: SnapshotEntry, path: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  const out = new Writable({
    highWaterMark: 4096,
    write(chunk: Buffer, _encoding, done) {
      parts.push(chunk);
      setImmediate(done);
    },
  });
  await dump(repo, snap, path, out);
  // dump does not end the stream; what it wrote may still wait in the sink's buffer.
  out.end();
  await once(out, "finish");
  return Buffer.concat(parts);
}

async function site(): Promise<{ builder: RepoBuilder; snap: SnapshotEntry }> {
  const builder = await RepoBuilder.create();
  const [longDir, longName] = LONG.split("/") as [string, string];
  const snap = await builder.snapshot({
    srv: dir({
      www: dir({
        "index.html": file("<h1>hi</h1>\n", { mode: 0o640, mtime: "1600000000250000000" }),
        "big.bin": file(BIG),
        "empty.txt": file(""),
        "empty dir": dir({}, { mode: 0o700 }),
        "ünïcødé name": file("ü"),
        [longDir]: dir({ [longName]: file("deep and long") }),
        link: symlinkTo("index.html"),
        far: symlinkTo(`/${"t".repeat(150)}`),
        h1: file("same inode", { inode: 77, links: 2 }),
        h2: file("same inode", { inode: 77, links: 2 }),
      }),
    }),
  });
  return { builder, snap };
}

describe("dump", () => {
  it("writes a file's bytes", async () => {
    const { builder, snap } = await site();
    const bytes = await dumpBytes(builder.repo, snap, "/srv/www/big.bin");
    assert.equal(sha256(bytes), sha256(BIG));
    assert.equal((await dumpBytes(builder.repo, snap, "/srv/www/empty.txt")).length, 0);
  });

  it("writes a directory as a tar that tar extracts to what restore writes", async (t) => {
    const { builder, snap } = await site();
    const { dir: work, cleanup } = await tempDir();
    t.after(cleanup);
    const archive = join(work, "www.tar");
    await writeFile(archive, await dumpBytes(builder.repo, snap, "/srv/www"));
    const listing = execFileSync("tar", ["-tvf", archive], { encoding: "utf8" });
    assert.match(listing, /^drwxr-xr-x .* srv\/www\/$/m);
    assert.match(listing, /^lrwxrwxrwx .* srv\/www\/link -> index\.html$/m);
    assert.match(listing, /^hrw-r--r-- .* srv\/www\/h2 link to srv\/www\/h1$/m);
    assert.match(listing, new RegExp(`srv/www/${LONG}$`, "m"));

    const extracted = join(work, "x");
    await mkdir(extracted);
    execFileSync("tar", ["-xf", archive, "-C", extracted]);
    const restored = join(work, "r");
    await restore(builder.repo, snap, { target: restored, path: "/" });
    const fromTar = await describeTree(extracted);
    const fromRestore = await describeTree(restored);
    assert.deepEqual([...fromTar.keys()], [...fromRestore.keys()]);
    for (const [path, want] of fromRestore) {
      const got = fromTar.get(path);
      assert.ok(got);
      assert.equal(got.type, want.type, path);
      assert.equal(got.sha256, want.sha256, path);
      assert.equal(got.target, want.target, path);
      if (want.type !== "symlink") assert.equal(got.mode, want.mode, path);
      if (path !== "srv") {
        const drift = got.mtimeNs - want.mtimeNs;
        assert.ok(drift < 1000n && drift > -1000n, `${path}: mtime ${got.mtimeNs}`);
      }
    }
    assert.equal(fromTar.get("srv/www/h1")?.ino, fromTar.get("srv/www/h2")?.ino);
  });

  it("writes the whole snapshot from /, with specials and ids tar's ustar fields cannot hold", async (t) => {
    const builder = await RepoBuilder.create();
    const snap = await builder.snapshot({
      pipe: { type: "fifo" },
      sock: { type: "socket" },
      tty: { type: "chardev", mode: 0o620 },
      odd: file("x", { uid: 5_000_000, gid: 4_000_000, mtime: "-1500000000" }),
    });
    const { dir: work, cleanup } = await tempDir();
    t.after(cleanup);
    const archive = join(work, "all.tar");
    await writeFile(archive, await dumpBytes(builder.repo, snap, "/"));
    const listing = execFileSync("tar", ["--numeric-owner", "--full-time", "-tvf", archive], {
      encoding: "utf8",
      env: { ...process.env, TZ: "UTC" },
    });
    assert.match(listing, /^-rw-r--r-- 5000000\/4000000 +1 1969-12-31 .* odd$/m);
    assert.match(listing, /^prw-r--r-- .* pipe$/m);
    assert.match(listing, /^crw--w---- .* tty$/m);
    assert.doesNotMatch(listing, /sock/);
    // GNU tar lists negative fractional times a second off, but extracts them right.
    execFileSync("tar", ["-xf", archive, "-C", work, "odd"], { stdio: "ignore" });
    assert.equal((await stat(join(work, "odd"), { bigint: true })).mtimeNs, -1_500_000_000n);
  });

  it("refuses symlinks and missing paths, and stops at a damaged blob", async () => {
    const { builder, snap } = await site();
    await assert.rejects(dumpBytes(builder.repo, snap, "/srv/www/link"), { code: "INVALID" });
    await assert.rejects(dumpBytes(builder.repo, snap, "/srv/nope"), { code: "NOT_FOUND" });
    await assert.rejects(dumpBytes(builder.repo, snap, "srv"), { code: "INVALID" });
    const at = builder.repo.index.get(
      builder.repo.blobId(BIG.subarray(0, 100 * 1024)).toString("hex"),
    );
    assert.ok(at);
    const bytes = builder.packBytes(at.pack);
    bytes[at.offset + 50] = (bytes[at.offset + 50] ?? 0) ^ 0xff;
    await assert.rejects(dumpBytes(builder.repo, snap, "/srv/www/big.bin"), {
      code: "DAMAGED",
      message: /failed authentication/,
    });
    await assert.rejects(dumpBytes(builder.repo, snap, "/"), { code: "DAMAGED" });
  });
});
