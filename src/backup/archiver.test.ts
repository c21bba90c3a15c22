import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { link, mkdir, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { listLocks } from "../repo/lock.ts";
import type { Repository } from "../repo/repository.ts";
import { StorageError } from "../storage/errors.ts";
import type { BackupSummary } from "../repo/snapshot.ts";
import type { TreeNode } from "../repo/tree.ts";
import { memoryRepo, reopen, tempDir } from "../../test/repo/helpers.ts";
import { backup } from "./archiver.ts";

function summaryOf(result: { snapshot: { summary?: BackupSummary | undefined } }): BackupSummary {
  assert.ok(result.snapshot.summary);
  return result.snapshot.summary;
}

/** The nodes at an absolute path of a snapshot tree. */
async function nodesAt(
  repo: Repository,
  tree: string,
  path: string,
): Promise<Map<string, TreeNode>> {
  let nodes = await repo.loadTree(tree);
  for (const part of path.split("/").filter((p) => p !== "")) {
    const dir = nodes.find((n) => n.name === part);
    assert.ok(dir?.subtree !== undefined, `no directory ${part} in ${path}`);
    nodes = await repo.loadTree(dir.subtree);
  }
  return new Map(nodes.map((n) => [n.name, n]));
}

describe("backup", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    await mkdir(join(dir, "src/deep/er"), { recursive: true });
    await mkdir(join(dir, "empty"));
    await mkdir(join(dir, "cache"));
    await writeFile(join(dir, "cache", "CACHEDIR.TAG"), "x");
    await writeFile(join(dir, "cache", "big"), "cached");
    await writeFile(join(dir, "src/a.txt"), "hello\n");
    await writeFile(join(dir, "src/deep/er/b.bin"), Buffer.alloc(3 * 1024 * 1024, 7));
    await writeFile(join(dir, "src/skip.tmp"), "tmp");
    await writeFile(join(dir, "empty.txt"), "");
    await writeFile(join(dir, "naïve name\nwith newline"), "unicode");
    await symlink("src/a.txt", join(dir, "link"));
    await link(join(dir, "src/a.txt"), join(dir, "hard"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
  });
  after(() => cleanup());

  it("stores the tree with metadata, links and specials, and honours excludes", async () => {
    const { repo } = await memoryRepo();
    const warnings: string[] = [];
    const result = await backup(repo, {
      paths: [dir],
      exclude: { patterns: ["*.tmp"], ifPresent: ["CACHEDIR.TAG"] },
      onWarning: (w) => warnings.push(w.message),
    });
    assert.deepEqual(result.snapshot.paths, [dir]);
    const top = await nodesAt(repo, result.snapshot.tree, dir);
    assert.deepEqual(
      [...top.keys()].sort(),
      ["empty", "empty.txt", "fifo", "hard", "link", "naïve name\nwith newline", "src"].sort(),
    );
    assert.equal(top.get("link")?.target, "src/a.txt");
    assert.equal(top.get("fifo")?.type, "fifo");
    assert.deepEqual(top.get("empty.txt")?.content, []);
    const src = await nodesAt(repo, result.snapshot.tree, join(dir, "src"));
    assert.equal(src.has("skip.tmp"), false);
    const a = src.get("a.txt");
    assert.ok(a?.content !== undefined);
    assert.equal(a.links, 2);
    assert.deepEqual(top.get("hard")?.content, a.content);
    assert.equal((await repo.loadBlob("data", a.content[0] ?? "")).toString(), "hello\n");
    const deep = await nodesAt(repo, result.snapshot.tree, join(dir, "src/deep/er"));
    const b = deep.get("b.bin");
    assert.ok((b?.content?.length ?? 0) >= 1);
    assert.equal(b?.size, 3 * 1024 * 1024);
    assert.ok(warnings.some((w) => w.includes("fifo")));
    assert.equal(result.snapshot.incomplete, undefined);
    assert.equal(summaryOf(result).filesNew, 5);
  });

  it("reads nothing unchanged on the next run, and only what changed after that", async () => {
    const { repo, server } = await memoryRepo();
    const first = await backup(repo, { paths: [join(dir, "src")] });
    const second = await backup(await reopen(server), { paths: [join(dir, "src")] });
    assert.equal(second.snapshot.parent, first.id);
    assert.equal(summaryOf(second).filesUnmodified, 3);
    assert.equal(summaryOf(second).dataAdded, 0);
    assert.equal(second.snapshot.tree, first.snapshot.tree);
    await writeFile(join(dir, "src/skip.tmp"), "changed");
    await utimes(join(dir, "src/skip.tmp"), new Date(), new Date(Date.now() + 5000));
    const third = await backup(await reopen(server), { paths: [join(dir, "src")] });
    assert.equal(summaryOf(third).filesChanged, 1);
    assert.equal(summaryOf(third).filesUnmodified, 2);
    assert.notEqual(third.snapshot.tree, first.snapshot.tree);
  });

  it("fails, without hanging, when packs cannot be stored, and releases its lock", async () => {
    const { dir: big, cleanup: done } = await tempDir();
    try {
      for (let i = 0; i < 150; i++) await writeFile(join(big, `f${i}`), randomBytes(270 * 1024));
      // Packs of 1 MiB, so uploads fail while most files are still being read.
      const { repo, server } = await memoryRepo(undefined, {
        packSize: { target: 1024 * 1024, max: 8 * 1024 * 1024 },
      });
      server.fault = (operation, path) =>
        operation === "write" && path.includes("/data/")
          ? new StorageError("NO_SPACE", "The destination is full (test).")
          : undefined;
      await assert.rejects(backup(repo, { paths: [big] }), { code: "NO_SPACE" });
      server.fault = undefined;
      assert.deepEqual(await listLocks(repo), []);
    } finally {
      await done();
    }
  });

  it("warns when a named path or its parent is a symlink, and marks what is lost as incomplete", async () => {
    const { repo } = await memoryRepo();
    const warnings: string[] = [];
    const linked = join(dir, "link"); // -> src/a.txt
    const viaLink = await backup(repo, {
      paths: [linked],
      onWarning: (w) => warnings.push(`${w.path}: ${w.message}`),
    });
    assert.ok(warnings.some((w) => w.includes("only the link is stored")));
    assert.equal(viaLink.snapshot.incomplete, undefined);
    await symlink(join(dir, "src"), join(dir, "srclink"));
    const below = await backup(repo, {
      paths: [join(dir, "srclink", "a.txt")],
      onWarning: (w) => warnings.push(`${w.path}: ${w.message}`),
    });
    assert.ok(warnings.some((w) => w.includes("paths named below it are not backed up")));
    assert.equal(below.snapshot.incomplete, true);
  });

  it("refuses a path that does not exist", async () => {
    const { repo } = await memoryRepo();
    await assert.rejects(backup(repo, { paths: [join(dir, "missing")] }), /does not exist/);
  });
});
