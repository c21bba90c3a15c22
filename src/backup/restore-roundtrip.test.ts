import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, link, mkdir, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { memoryRepo, tempDir } from "../../test/repo/helpers.ts";
import { backup } from "./archiver.ts";
import { describeTree, noise } from "./restore-fixtures.test-helper.ts";
import { restore } from "./restorer.ts";

describe("backup then restore", () => {
  it("gives back the same tree: contents, modes, mtimes, links", async (t) => {
    const { dir: work, cleanup } = await tempDir();
    t.after(cleanup);
    const src = join(work, "src");
    await mkdir(join(src, "deep/er/still"), { recursive: true });
    await mkdir(join(src, "empty"));
    await writeFile(join(src, "big.bin"), noise(5 * 1024 * 1024, 9));
    await writeFile(join(src, "deep/er/copy.bin"), noise(5 * 1024 * 1024, 9));
    await writeFile(join(src, "deep/er/still/small.txt"), "small\n");
    await writeFile(join(src, "empty.txt"), "");
    await writeFile(join(src, "naïve name\nwith newline and space "), "unicode");
    await writeFile(join(src, "script.sh"), "#!/bin/sh\n");
    await chmod(join(src, "script.sh"), 0o4750);
    await chmod(join(src, "empty"), 0o700);
    await symlink("deep/er/still/small.txt", join(src, "rel"));
    await symlink("/etc/hostname", join(src, "abs"));
    await symlink("nowhere", join(src, "dangling"));
    await link(join(src, "big.bin"), join(src, "deep/hard"));
    execFileSync("mkfifo", [join(src, "fifo")]);
    await utimes(join(src, "script.sh"), 1_234_567_890.123456, 1_234_567_890.123456);
    await utimes(join(src, "empty"), 1_000_000_000.5, 1_000_000_000.5);
    await utimes(join(src, "deep/er"), 1_100_000_000.25, 1_100_000_000.25);

    const { repo } = await memoryRepo();
    const saved = await backup(repo, { paths: [src], workers: 2 });
    const target = join(work, "restored");
    const warnings: string[] = [];
    const result = await restore(
      repo,
      { id: saved.id, snapshot: saved.snapshot },
      { target, path: src, onWarning: (m) => warnings.push(m) },
    );
    assert.deepEqual(warnings, [`${src}/fifo: not restored: ferry does not create fifo nodes.`]);
    assert.equal(result.hardlinks, 1);

    const want = await describeTree(src);
    want.delete("fifo");
    const got = await describeTree(target);
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [path, w] of want) {
      const g = got.get(path);
      assert.ok(g);
      assert.equal(g.type, w.type, path);
      assert.equal(g.sha256, w.sha256, path);
      assert.equal(g.target, w.target, path);
      assert.equal(g.size, w.size, path);
      if (w.type !== "symlink") assert.equal(g.mode.toString(8), w.mode.toString(8), path);
      const drift = g.mtimeNs - w.mtimeNs;
      assert.ok(drift < 1000n && drift > -1000n, `${path}: mtime ${g.mtimeNs} vs ${w.mtimeNs}`);
    }
    assert.equal(got.get("big.bin")?.ino, got.get("deep/hard")?.ino);

    // A second restore over the first finds everything identical.
    const again = await restore(
      repo,
      { id: saved.id, snapshot: saved.snapshot },
      { target, path: src },
    );
    assert.equal(again.files, 0);
    assert.equal(again.bytes, 0);
    assert.equal(again.skipped, 6 + 3 + 1);
  });
});
