/**
 * Property tests of backup and restore: for random trees, restore(backup(tree)) is the tree; and
 * after a random sequence of changes with a backup after each, every snapshot restores to the
 * tree as it was at its step.
 */
import assert from "node:assert/strict";
import {
  chmod,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  rename,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { backup } from "../../src/backup/archiver.ts";
import { restore } from "../../src/backup/restorer.ts";
import { memoryRepo, reopen, tempDir } from "./helpers.ts";
import {
  assertSameState,
  bigContentArb,
  buildTree,
  contentBytes,
  listTree,
  modeArb,
  nameArb,
  readState,
  timeArb,
  treeArb,
  type Content,
  type Seconds,
  type TreeState,
} from "./tree-model.ts";

describe("backup then restore, random trees", () => {
  it("gives back exactly the tree: names, contents, modes, mtimes, links", async () => {
    const { dir: work, cleanup } = await tempDir("ferry-prop-");
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(treeArb, async (spec) => {
          const base = join(work, `run-${run++}`);
          const src = join(base, "src");
          await mkdir(src, { recursive: true });
          try {
            await buildTree(src, spec);
            const expected = await readState(src);
            const { server } = await memoryRepo();
            const saved = await backup(await reopen(server), { paths: [src], workers: 2 });
            assert.equal(saved.warnings.length, 0, JSON.stringify(saved.warnings));
            // Restored through another Repository object: only what was stored counts.
            const reader = await reopen(server);
            const target = join(base, "restored");
            const result = await restore(
              reader,
              { id: saved.id, snapshot: await reader.loadSnapshot(saved.id) },
              { target, path: src },
            );
            assert.deepEqual(result.warnings, []);
            assertSameState(expected, await readState(target), "restored tree");
          } finally {
            await rm(base, { recursive: true, force: true });
          }
        }),
        { numRuns: 12 },
      );
    } finally {
      await cleanup();
    }
  });
});

/** One change to the source tree; `pick` numbers choose among what exists when it runs. */
type Mutation =
  | { op: "add"; dir: number; name: string; content: Content; mode: number }
  | { op: "mkdir"; dir: number; name: string }
  | { op: "remove"; pick: number }
  | { op: "modify"; pick: number; how: "replace" | "append" | "patch"; data: Uint8Array }
  /** Changes bytes in place and puts the old mtime back: only ctime shows the change. */
  | { op: "sneaky"; pick: number; data: Uint8Array }
  | { op: "rename"; pick: number; dir: number; name: string }
  | { op: "chmod"; pick: number; mode: number }
  | { op: "touch"; pick: number; time: Seconds }
  | { op: "symlink"; dir: number; name: string; target: string }
  | { op: "hardlink"; pick: number; dir: number; name: string };

const smallOrBig: fc.Arbitrary<Content> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.uint8Array({ maxLength: 4000 }).map((data): Content => ({ kind: "bytes", data })),
  },
  {
    weight: 1,
    arbitrary: bigContentArb.map(
      (c): Content => (c.kind === "big" ? { ...c, size: Math.min(c.size, 1_500_000) } : c),
    ),
  },
);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant("add" as const),
    dir: fc.nat(),
    name: nameArb,
    content: smallOrBig,
    mode: modeArb,
  }),
  fc.record({ op: fc.constant("mkdir" as const), dir: fc.nat(), name: nameArb }),
  fc.record({ op: fc.constant("remove" as const), pick: fc.nat() }),
  fc.record({
    op: fc.constant("modify" as const),
    pick: fc.nat(),
    how: fc.constantFrom("replace" as const, "append" as const, "patch" as const),
    data: fc.uint8Array({ minLength: 1, maxLength: 2000 }),
  }),
  fc.record({
    op: fc.constant("sneaky" as const),
    pick: fc.nat(),
    data: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({ op: fc.constant("rename" as const), pick: fc.nat(), dir: fc.nat(), name: nameArb }),
  fc.record({ op: fc.constant("chmod" as const), pick: fc.nat(), mode: modeArb }),
  fc.record({ op: fc.constant("touch" as const), pick: fc.nat(), time: timeArb }),
  fc.record({
    op: fc.constant("symlink" as const),
    dir: fc.nat(),
    name: nameArb,
    target: fc.constantFrom("nowhere", "../up", "/etc/hostname", "."),
  }),
  fc.record({ op: fc.constant("hardlink" as const), pick: fc.nat(), dir: fc.nat(), name: nameArb }),
);

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** Applies one mutation to the tree under `root`; a mutation that does not apply is skipped. */
async function mutate(root: string, m: Mutation): Promise<void> {
  const all = await listTree(root);
  const entries = all.filter((e) => e.path !== "");
  const dirs = all.filter((e) => e.dir).map((e) => e.path);
  const files: string[] = [];
  for (const e of entries)
    if (!e.dir && (await lstat(join(root, e.path))).isFile()) files.push(e.path);
  const pickOf = <T>(list: T[], n: number): T | undefined => list[n % Math.max(1, list.length)];
  const at = (rel: string) => join(root, rel);
  switch (m.op) {
    case "add": {
      const path = join(at(pickOf(dirs, m.dir) ?? ""), m.name);
      if (await exists(path)) return;
      await writeFile(path, contentBytes(m.content));
      await chmod(path, m.mode);
      return;
    }
    case "mkdir": {
      const path = join(at(pickOf(dirs, m.dir) ?? ""), m.name);
      if (!(await exists(path))) await mkdir(path);
      return;
    }
    case "remove": {
      const entry = pickOf(entries, m.pick);
      if (entry !== undefined) await rm(at(entry.path), { recursive: true, force: true });
      return;
    }
    case "modify": {
      const file = pickOf(files, m.pick);
      if (file === undefined) return;
      if (m.how === "replace") await writeFile(at(file), m.data);
      else if (m.how === "append") await writeFile(at(file), m.data, { flag: "a" });
      else await patch(at(file), m.data);
      return;
    }
    case "sneaky": {
      const file = pickOf(files, m.pick);
      if (file === undefined) return;
      const before = await lstat(at(file));
      await patch(at(file), m.data);
      await utimes(at(file), before.atime, before.mtime);
      return;
    }
    case "rename": {
      const entry = pickOf(entries, m.pick);
      const into = pickOf(dirs, m.dir) ?? "";
      if (entry === undefined) return;
      if (into === entry.path || into.startsWith(`${entry.path}/`)) return;
      const path = join(at(into), m.name);
      if (await exists(path)) return;
      await rename(at(entry.path), path);
      return;
    }
    case "chmod": {
      const entry = pickOf(entries, m.pick);
      if (entry !== undefined && !(await lstat(at(entry.path))).isSymbolicLink()) {
        await chmod(at(entry.path), m.mode);
      }
      return;
    }
    case "touch": {
      const entry = pickOf(entries, m.pick);
      if (entry !== undefined) await lutimes(at(entry.path), m.time, m.time);
      return;
    }
    case "symlink": {
      const path = join(at(pickOf(dirs, m.dir) ?? ""), m.name);
      if (!(await exists(path))) await symlink(m.target, path);
      return;
    }
    case "hardlink": {
      const file = pickOf(files, m.pick);
      const path = join(at(pickOf(dirs, m.dir) ?? ""), m.name);
      if (file !== undefined && !(await exists(path))) await link(at(file), path);
      return;
    }
  }
}

/** Overwrites bytes in the middle of a file, keeping its size when the file is long enough. */
async function patch(path: string, data: Uint8Array): Promise<void> {
  const handle = await open(path, "r+");
  try {
    const { size } = await handle.stat();
    const position = size > data.length ? Math.floor((size - data.length) / 2) : 0;
    await handle.write(data, 0, data.length, position);
  } finally {
    await handle.close();
  }
}

describe("incremental backups, random changes", () => {
  it("restores every snapshot to the tree as it was when it was taken", async () => {
    const { dir: work, cleanup } = await tempDir("ferry-prop-inc-");
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          treeArb,
          fc.array(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), {
            minLength: 3,
            maxLength: 7,
          }),
          async (spec, steps) => {
            const base = join(work, `run-${run++}`);
            const src = join(base, "src");
            await mkdir(src, { recursive: true });
            try {
              await buildTree(src, spec);
              const { server } = await memoryRepo();
              const taken: { id: string; state: TreeState }[] = [];
              for (const [i, mutations] of [[], ...steps].entries()) {
                for (const m of mutations) await mutate(src, m);
                const state = await readState(src);
                // Each run on its own Repository object, as separate processes would be.
                const saved = await backup(await reopen(server), { paths: [src], workers: 2 });
                assert.equal(saved.warnings.length, 0, JSON.stringify(saved.warnings));
                if (i > 0)
                  assert.equal(
                    saved.snapshot.parent,
                    taken.at(-1)?.id,
                    "the previous snapshot is the parent",
                  );
                taken.push({ id: saved.id, state });
              }
              const reader = await reopen(server);
              const stored = await reader.listSnapshots();
              assert.deepEqual(
                stored.map((s) => s.id),
                taken.map((s) => s.id),
              );
              for (const [i, { state }] of taken.entries()) {
                const target = join(base, `restored-${i}`);
                const entry = stored[i];
                assert.ok(entry !== undefined);
                const result = await restore(reader, entry, { target, path: src });
                assert.deepEqual(result.warnings, []);
                assertSameState(state, await readState(target), `snapshot of step ${i}`);
              }
            } finally {
              await rm(base, { recursive: true, force: true });
            }
          },
        ),
        { numRuns: 6 },
      );
    } finally {
      await cleanup();
    }
  });
});
