import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isRepoError } from "../repo/errors.ts";
import { encodeTree } from "../repo/tree.ts";
import { tempDir } from "../../test/repo/helpers.ts";
import {
  describeTree,
  dir,
  file,
  noise,
  RepoBuilder,
  sha256,
} from "./restore-fixtures.test-helper.ts";
import { restore, RestoreDamagedError } from "./restorer.ts";

const BIG = noise(350 * 1024, 3);

/** The location of the blob holding `piece`. */
function where(builder: RepoBuilder, piece: string | Buffer) {
  const location = builder.repo.index.get(builder.repo.blobId(Buffer.from(piece)).toString("hex"));
  assert.ok(location);
  return location;
}

describe("restore refuses what could escape the target", () => {
  it("never writes through a symlink already in the target", async (t) => {
    const builder = await RepoBuilder.create();
    const snap = await builder.snapshot({
      etc: dir({ passwd: file("root::0:0\n"), "shadow.d": dir({ x: file("x") }) }),
      ok: file("fine"),
    });
    const { dir: target, cleanup } = await tempDir();
    const { dir: outside, cleanup: cleanupOutside } = await tempDir();
    t.after(cleanup);
    t.after(cleanupOutside);
    await symlink(outside, join(target, "etc"));
    for (const overwrite of ["if-changed", "always", "never"] as const) {
      const warnings: string[] = [];
      const result = await restore(builder.repo, snap, {
        target,
        overwrite,
        onWarning: (m) => warnings.push(m),
      });
      assert.deepEqual(await readdir(outside), [], overwrite);
      assert.equal((await lstat(join(target, "etc"))).isSymbolicLink(), true);
      assert.equal(warnings.length, 1, overwrite);
      assert.match(
        warnings[0] ?? "",
        /^\/etc: not restored to .*symbolic link \(to .*\).*refusing/,
      );
      assert.deepEqual(result.warnings, warnings);
    }
    assert.equal(await readFile(join(target, "ok"), "utf8"), "fine");
  });

  it("replaces a symlink in place of a file instead of writing through it", async (t) => {
    const builder = await RepoBuilder.create();
    const snap = await builder.snapshot({ a: dir({ f: file("new") }) });
    const { dir: target, cleanup } = await tempDir();
    const { dir: outside, cleanup: cleanupOutside } = await tempDir();
    t.after(cleanup);
    t.after(cleanupOutside);
    await writeFile(join(outside, "victim"), "old");
    await mkdir(join(target, "a"));
    await symlink(join(outside, "victim"), join(target, "a", "f"));
    await restore(builder.repo, snap, { target });
    assert.equal(await readFile(join(outside, "victim"), "utf8"), "old");
    assert.equal((await lstat(join(target, "a", "f"))).isFile(), true);
    assert.equal(await readFile(join(target, "a", "f"), "utf8"), "new");
  });

  it("refuses a tree naming .. or holding a slash", async (t) => {
    for (const name of ["..", "../../escape", "."]) {
      const builder = await RepoBuilder.create();
      const honest = encodeTree([await builder.node("x", file("evil"))]);
      const text = new TextDecoder().decode(honest).replace('"name":"x"', `"name":"${name}"`);
      const tree = await builder.blob("tree", new TextEncoder().encode(text));
      const snap = await builder.snapshot({ a: { type: "dir", children: {}, tree } });
      const { dir: parent, cleanup } = await tempDir();
      t.after(cleanup);
      const target = join(parent, "in", "target");
      await assert.rejects(restore(builder.repo, snap, { target }), (error) => {
        assert.ok(isRepoError(error, "DAMAGED"));
        assert.match(error.message, /unsafe name/);
        return true;
      });
      assert.deepEqual([...(await describeTree(parent)).keys()], []);
    }
  });
});

describe("restore from a damaged repository", () => {
  for (const workers of [0, 1]) {
    it(`names the file of a tampered blob and its pack, and restores the rest (${workers} workers)`, async (t) => {
      const builder = await RepoBuilder.create();
      const snap = await builder.snapshot({
        ok: file("fine"),
        large: file(BIG),
        linked: file("linked", { inode: 9, links: 2 }),
        again: file("linked", { inode: 9, links: 2 }),
        copy: file(BIG.subarray(100 * 1024, 200 * 1024)),
      });
      const second = where(builder, BIG.subarray(100 * 1024, 200 * 1024));
      const bytes = builder.packBytes(second.pack);
      bytes[second.offset + 100] = (bytes[second.offset + 100] ?? 0) ^ 1;
      const linked = where(builder, "linked");
      const more = builder.packBytes(linked.pack);
      more[linked.offset + linked.length - 1] = (more[linked.offset + linked.length - 1] ?? 0) ^ 1;
      const { dir: target, cleanup } = await tempDir();
      t.after(cleanup);
      const warnings: string[] = [];
      const error = await restore(builder.repo, snap, {
        target,
        workers,
        onWarning: (m) => warnings.push(m),
      }).then(
        () => assert.fail("the restore succeeded"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof RestoreDamagedError);
      assert.equal(error.code, "DAMAGED");
      // Names sort "again" first: it is the hardlink group's first member, "linked" links to it.
      assert.deepEqual(error.files, ["/again", "/copy", "/large"]);
      assert.match(error.message, /3 files could not be restored.*\/again, \/copy, \/large\./);
      assert.equal(error.result.files, 1);
      assert.deepEqual(error.result.warnings, warnings);
      const pack = second.pack.slice(0, 12);
      assert.ok(
        warnings.some((w) => w.startsWith("/large: not restored: ") && w.includes(`pack ${pack}`)),
        warnings.join("\n"),
      );
      assert.ok(
        warnings.some((w) => /^\/linked: .*hardlink to \/again/.test(w)),
        warnings.join("\n"),
      );
      const tree = await describeTree(target);
      assert.deepEqual([...tree.keys()], ["ok"]);
      assert.equal(tree.get("ok")?.sha256, sha256("fine"));
    });
  }

  it("reports files cut off by a truncated or missing pack", async (t) => {
    const builder = await RepoBuilder.create();
    const snap = await builder.snapshot({
      a: file("first"),
      large: file(BIG),
      z: dir({ deep: file("deep") }),
    });
    const last = where(builder, BIG.subarray(300 * 1024));
    const first = where(builder, "first");
    assert.notEqual(last.pack, first.pack);
    builder.setPackBytes(last.pack, builder.packBytes(last.pack).subarray(0, last.offset + 10));
    const deep = where(builder, "deep");
    if (deep.pack !== last.pack) builder.removePack(deep.pack);
    const { dir: target, cleanup } = await tempDir();
    t.after(cleanup);
    const error = await restore(builder.repo, snap, { target }).then(
      () => assert.fail("the restore succeeded"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof RestoreDamagedError);
    assert.deepEqual(error.files, ["/large", "/z/deep"]);
    assert.ok(error.result.warnings.some((w) => /^\/large: .*is (truncated|missing)/.test(w)));
    assert.equal(await readFile(join(target, "a"), "utf8"), "first");
    await assert.rejects(lstat(join(target, "large")), { code: "ENOENT" });
    assert.equal((await lstat(join(target, "z"))).isDirectory(), true);
  });

  it("keeps an existing file whose new data never arrived", async (t) => {
    const builder = await RepoBuilder.create();
    const snap = await builder.snapshot({ a: file("first"), z: dir({ deep: file("deep") }) });
    builder.removePack(where(builder, "deep").pack);
    const { dir: target, cleanup } = await tempDir();
    t.after(cleanup);
    await mkdir(join(target, "z"));
    await writeFile(join(target, "z", "deep"), "the old version");
    for (const overwrite of ["if-changed", "always"] as const) {
      await assert.rejects(restore(builder.repo, snap, { target, overwrite }), RestoreDamagedError);
      assert.equal(await readFile(join(target, "z", "deep"), "utf8"), "the old version");
    }
  });

  it("reports a file whose blob no index lists", async (t) => {
    const builder = await RepoBuilder.create();
    const ghost = await builder.node("ghost", file("boo"));
    ghost.content = ["00".repeat(32)];
    const tree = await builder.blob(
      "tree",
      encodeTree([ghost, await builder.node("real", file("here"))]),
    );
    const snap = await builder.snapshot(tree);
    const { dir: target, cleanup } = await tempDir();
    t.after(cleanup);
    await assert.rejects(restore(builder.repo, snap, { target }), (error) => {
      assert.ok(error instanceof RestoreDamagedError);
      assert.deepEqual(error.files, ["/ghost"]);
      assert.match(error.result.warnings[0] ?? "", /^\/ghost: not restored: .*not in any index/);
      return true;
    });
    assert.equal(await readFile(join(target, "real"), "utf8"), "here");
  });
});
