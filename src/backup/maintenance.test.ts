import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Repository } from "../repo/repository.ts";
import { tempDir } from "../../test/repo/helpers.ts";
import {
  cloneServer,
  newRepo,
  objects,
  openRepo,
  packNode,
  readBack,
  type Files,
} from "../../test/repo/maintenance-fixture.ts";
import { backup } from "./archiver.ts";
import { check } from "./check.ts";
import { forget } from "./forget.ts";
import { prune } from "./prune.ts";

/** The files below `dir` as `readBack` names them: from the root, without the leading `/`. */
function expected(dir: string, files: Record<string, Buffer>): Files {
  return new Map(Object.entries(files).map(([path, data]) => [join(dir, path).slice(1), data]));
}

describe("check, forget and prune on real backups", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  after(() => cleanup());

  it("keeps the last backup whole through forget and prune, and check names damaged files", async () => {
    const first: Record<string, Buffer> = {
      "big1.bin": randomBytes(3 * 1024 * 1024),
      "big2.bin": randomBytes(2 * 1024 * 1024),
      "a.txt": Buffer.from("first\n"),
      "sub/b.txt": Buffer.from("b\n"),
    };
    await mkdir(join(dir, "sub"));
    for (const [path, data] of Object.entries(first)) await writeFile(join(dir, path), data);
    const { server, repo } = await newRepo();
    const one = await backup(repo, { paths: [dir] });

    const second: Record<string, Buffer> = {
      "big2.bin": first["big2.bin"] ?? Buffer.alloc(0),
      "big3.bin": randomBytes(3 * 1024 * 1024),
      "a.txt": Buffer.from("second\n"),
      "sub/b.txt": Buffer.from("b\n"),
    };
    await rm(join(dir, "big1.bin"));
    for (const [path, data] of Object.entries(second)) await writeFile(join(dir, path), data);
    const two = await backup(await openRepo(server), { paths: [dir] });

    const sound = await check(await openRepo(server), { readData: true });
    assert.deepEqual(sound.errors, []);
    assert.deepEqual(sound.warnings, []);
    assert.equal(sound.stats.snapshots, 2);

    const forgotten = await forget(await openRepo(server), { keepLast: 1 });
    assert.deepEqual(forgotten.removed, [one.id]);
    const packsBefore = objects(server, "data").length;
    const report = await prune(await openRepo(server));
    assert.ok(report.removed.packs + report.repacked.packs > 0);
    // big1 was 3 MiB of incompressible data that only the forgotten backup used.
    assert.ok(report.bytesFreed >= 1.5 * 1024 * 1024);
    assert.ok(objects(server, "data").length < packsBefore);

    const after = await check(await openRepo(server), { readData: true });
    assert.deepEqual(after.errors, []);
    assert.deepEqual(after.warnings, []);
    assert.deepEqual(await readBack(server, two.id), expected(dir, second));

    // A flipped byte inside big2's data is traced back to big2.bin.
    const damaged = cloneServer(server);
    const reader = await openRepo(damaged);
    await reader.loadIndex();
    const big2 = await findFile(reader, two.snapshot.tree, join(dir, "big2.bin"));
    const at = reader.index.get(big2);
    assert.ok(at);
    const node = packNode(damaged, at.pack);
    node.data[at.offset + 100] = (node.data[at.offset + 100] ?? 0) ^ 0xff;
    assert.deepEqual((await check(await openRepo(damaged))).errors, []);
    const found = await check(await openRepo(damaged), { readData: true });
    assert.equal(found.errors.length, 1);
    assert.deepEqual(found.errors[0]?.affected, [
      { snapshot: two.id, paths: [join(dir, "big2.bin")] },
    ]);
  });
});

/** The first chunk of the file at absolute `path` in a snapshot tree. */
async function findFile(repo: Repository, tree: string, path: string): Promise<string> {
  let nodes = await repo.loadTree(tree);
  const parts = path.split("/").filter((p) => p !== "");
  const name = parts.pop() ?? "";
  for (const part of parts) {
    const sub = nodes.find((n) => n.name === part)?.subtree;
    assert.ok(sub !== undefined, `no directory ${part}`);
    nodes = await repo.loadTree(sub);
  }
  const chunk = nodes.find((n) => n.name === name)?.content?.[0];
  assert.ok(chunk !== undefined, `no file ${path}`);
  return chunk;
}
