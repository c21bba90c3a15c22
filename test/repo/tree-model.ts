/**
 * Random directory trees for round-trip tests: fast-check arbitraries describing a tree, the
 * code that builds one on disk, and an exact description of a tree as restore must reproduce it
 * (contents, modes, link targets via `fingerprint`; mtimes to the nanosecond; hardlink groups).
 */
import assert from "node:assert/strict";
import { createCipheriv, createHash } from "node:crypto";
import {
  chmod,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join, relative } from "node:path";
import fc from "fast-check";
import { differences, fingerprint } from "./compare.ts";

/** A time as seconds since the epoch, as `utimes` takes it. */
export type Seconds = number;

/** File contents: literal bytes, or a large file made from a seed. */
export type Content =
  | { kind: "bytes"; data: Uint8Array }
  | { kind: "big"; size: number; seed: number; repetitive: boolean };

/** A file, directory or symlink to create. */
export type NodeSpec =
  | { type: "file"; name: string; content: Content; mode: number; mtime: Seconds }
  | { type: "dir"; name: string; mode: number; mtime: Seconds; children: NodeSpec[] }
  | { type: "symlink"; name: string; target: string; mtime: Seconds };

/** A whole tree: `picks` choose among the directories and files created before them. */
export interface TreeSpec {
  children: NodeSpec[];
  /** A chain of directories at least 10 deep, with a file at the bottom. */
  deep: { names: string[]; leaf: NodeSpec & { type: "file" } };
  /** Files crossing chunk boundaries, each put into a picked directory. */
  big: { dir: number; file: NodeSpec & { type: "file" } }[];
  /** Extra names for picked files, in picked directories. */
  hardlinks: { file: number; dir: number; name: string }[];
}

const SPECIAL_NAMES = [
  "a b",
  " leading space",
  "trailing space ",
  "line\nbreak",
  "\n",
  "tab\there",
  "e\u0301 combining",
  "\u00e9 precomposed",
  "e\u0301",
  "\u00e9",
  "😀",
  "👩‍👩‍👧‍👦 family",
  "🏳️‍🌈",
  "日本語のファイル名",
  "中文",
  "한국어",
  "Ελληνικά",
  "עברית",
  "\u202eright-to-left override",
  "\u200bzero width",
  ".hidden",
  "..double",
  "...",
  "-starts-with-dash",
  "*?[glob]{x}",
  "back\\slash",
  "quote'\"`",
  "$HOME",
  "x".repeat(255),
  "é".repeat(127),
];

/** True for a name a directory entry can have. */
export function validName(name: string): boolean {
  return (
    name !== "" &&
    name !== "." &&
    name !== ".." &&
    !name.includes("/") &&
    !name.includes("\0") &&
    Buffer.byteLength(name) <= 255
  );
}

/** Entry names: unicode graphemes, arbitrary code points, ASCII, and hand-picked awkward ones. */
export const nameArb: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }) },
    { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_NAMES) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 6 }) },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 10 }) },
  )
  .filter(validName);

/** Permission bits, common ones more often; set-id and sticky bits included. */
export const modeArb: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0o644, 0o600, 0o755, 0o700, 0o400, 0o000, 0o777, 0o4755, 0o2750, 0o1777),
  fc.integer({ min: 0, max: 0o7777 }),
);

/**
 * A time with a microsecond fraction away from whole milliseconds, from before 1970 to 2100;
 * `utimes` takes a double, so the exact nanoseconds are whatever the filesystem keeps.
 */
export const timeArb: fc.Arbitrary<Seconds> = fc
  .tuple(
    fc.integer({ min: -1_000_000_000, max: 4_102_444_800 }),
    fc.integer({ min: 0, max: 999 }),
    fc.integer({ min: 100, max: 900 }),
  )
  .map(([s, ms, us]) => s + ms / 1e3 + us / 1e6);

const smallContentArb: fc.Arbitrary<Content> = fc.oneof(
  fc.constant<Content>({ kind: "bytes", data: new Uint8Array(0) }),
  fc.uint8Array({ maxLength: 3000 }).map((data): Content => ({ kind: "bytes", data })),
  fc
    .string({ unit: "grapheme", maxLength: 200 })
    .map((s): Content => ({ kind: "bytes", data: Buffer.from(s) })),
);

/** Large contents, 300 KiB to 5 MiB, random or repetitive: these span several chunks. */
export const bigContentArb: fc.Arbitrary<Content> = fc.record({
  kind: fc.constant("big" as const),
  size: fc.integer({ min: 300 * 1024, max: 5 * 1024 * 1024 }),
  seed: fc.nat(),
  repetitive: fc.boolean(),
});

const targetArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "/etc/hostname",
    "/nonexistent/absolute",
    "nowhere",
    "../dangling/../up",
    ".",
    "..",
    "a b/c\nd",
    "日本/😀",
  ),
  fc.array(nameArb, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/")),
  nameArb.map((n) => `/${n}`),
);

const fileArb = (content: fc.Arbitrary<Content>) =>
  fc.record({
    type: fc.constant("file" as const),
    name: nameArb,
    content,
    mode: modeArb,
    mtime: timeArb,
  });

const { node: nodeArb } = fc.letrec<{ node: NodeSpec; dir: NodeSpec }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 3, depthSize: "small" },
    { weight: 4, arbitrary: fileArb(smallContentArb) },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant("symlink" as const),
        name: nameArb,
        target: targetArb,
        mtime: timeArb,
      }),
    },
    { weight: 2, arbitrary: tie("dir") },
  ),
  dir: fc.record({
    type: fc.constant("dir" as const),
    name: nameArb,
    mode: modeArb,
    mtime: timeArb,
    children: fc.uniqueArray(tie("node"), { maxLength: 6, selector: (n) => n.name }),
  }),
}));

/** Children of one directory, with distinct names. */
export const childrenArb: fc.Arbitrary<NodeSpec[]> = fc.uniqueArray(nodeArb, {
  maxLength: 12,
  selector: (n) => n.name,
});

/** A random tree; at most two large files, so a run stays small. */
export const treeArb: fc.Arbitrary<TreeSpec> = fc.record({
  children: childrenArb,
  deep: fc.record({
    names: fc.array(
      nameArb.filter((n) => Buffer.byteLength(n) <= 40),
      {
        minLength: 10,
        maxLength: 14,
      },
    ),
    leaf: fileArb(smallContentArb),
  }),
  big: fc.array(fc.record({ dir: fc.nat(), file: fileArb(bigContentArb) }), { maxLength: 2 }),
  hardlinks: fc.array(fc.record({ file: fc.nat(), dir: fc.nat(), name: nameArb }), {
    maxLength: 4,
  }),
});

/** The bytes of `content`; large ones are generated from their seed (AES-CTR keystream). */
export function contentBytes(content: Content): Buffer {
  if (content.kind === "bytes") return Buffer.from(content.data);
  const key = createHash("sha256").update(`content ${content.seed}`).digest();
  const stream = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  if (!content.repetitive) return stream.update(Buffer.alloc(content.size));
  const pattern = stream.update(Buffer.alloc(1 + (content.seed % 4096)));
  const out = Buffer.alloc(content.size, pattern);
  // A few random bursts, so the repeated chunks are not all the same.
  for (let i = 0; i < 3; i++) {
    const at = (content.seed * (i + 7)) % content.size;
    stream.update(Buffer.alloc(Math.min(4096, content.size - at))).copy(out, at);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** What the builder made, for picks and for applying metadata last. */
interface Built {
  dirs: string[];
  files: string[];
  /** Metadata to apply once everything is created, deepest directories last in the list. */
  meta: { path: string; type: NodeSpec["type"]; mode?: number; mtime: Seconds }[];
}

async function buildNodes(dir: string, nodes: NodeSpec[], built: Built): Promise<void> {
  for (const node of nodes) {
    const path = join(dir, node.name);
    // Names may repeat across the separately generated parts of a tree: the first one wins.
    if (await exists(path)) continue;
    if (node.type === "file") {
      await writeFile(path, contentBytes(node.content));
      built.files.push(path);
      built.meta.push({ path, type: "file", mode: node.mode, mtime: node.mtime });
    } else if (node.type === "symlink") {
      await symlink(node.target, path);
      built.meta.push({ path, type: "symlink", mtime: node.mtime });
    } else {
      await mkdir(path);
      built.dirs.push(path);
      await buildNodes(path, node.children, built);
      built.meta.push({ path, type: "dir", mode: node.mode, mtime: node.mtime });
    }
  }
}

/** Creates the tree `spec` describes under `root` (which must exist and be empty). */
export async function buildTree(root: string, spec: TreeSpec): Promise<void> {
  const built: Built = { dirs: [root], files: [], meta: [] };
  await buildNodes(root, spec.children, built);
  let chain: NodeSpec = spec.deep.leaf;
  for (const name of [...spec.deep.names].reverse()) {
    chain = { type: "dir", name, mode: 0o755, mtime: 1_500_000_000.5, children: [chain] };
  }
  await buildNodes(root, [{ ...chain, name: "deep-chain" }], built);
  for (const { dir, file } of spec.big) {
    await buildNodes(built.dirs[dir % built.dirs.length] ?? root, [file], built);
  }
  for (const h of spec.hardlinks) {
    const file = built.files[h.file % Math.max(1, built.files.length)];
    const into = built.dirs[h.dir % built.dirs.length] ?? root;
    if (file === undefined || (await exists(join(into, h.name)))) continue;
    await link(file, join(into, h.name));
  }
  // Files and links first; directories (listed children before parents) after, so creating
  // entries does not move a directory's mtime after it was set.
  const order = [
    ...built.meta.filter((m) => m.type !== "dir"),
    ...built.meta.filter((m) => m.type === "dir"),
  ];
  for (const m of order) {
    if (m.type === "symlink") {
      await lutimes(m.path, m.mtime, m.mtime);
      continue;
    }
    if (m.mode !== undefined) await chmod(m.path, m.mode);
    await utimes(m.path, m.mtime, m.mtime);
  }
}

/** A tree as a restore must reproduce it. */
export interface TreeState {
  /** `fingerprint` without mtimes: type, mode, size, content hash, link target. */
  print: Map<string, string>;
  /** Every entry's mtime in nanoseconds (files, directories and symlinks). */
  mtimes: Map<string, bigint>;
  /** Paths sharing an inode, each group sorted, groups sorted. */
  hardlinks: string[][];
}

/** Reads the state of the tree under `root` (the root itself left out). */
export async function readState(root: string): Promise<TreeState> {
  const mtimes = new Map<string, bigint>();
  const inodes = new Map<bigint, string[]>();
  const visit = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const st = await lstat(path, { bigint: true });
      const rel = relative(root, path);
      mtimes.set(rel, st.mtimeNs);
      if (st.isFile()) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
      if (st.isDirectory()) await visit(path);
    }
  };
  await visit(root);
  const hardlinks = [...inodes.values()]
    .filter((paths) => paths.length > 1)
    .map((paths) => paths.sort())
    .sort((a, b) => (a[0] ?? "").localeCompare(b[0] ?? ""));
  return { print: await fingerprint(root, { mtimes: false }), mtimes, hardlinks };
}

/**
 * Asserts that `actual` is `expected`: the same entries with the same fingerprints, mtimes within
 * 1 µs (restore sets them through a double, which keeps about a quarter of a microsecond), and
 * the same hardlink groups.
 */
export function assertSameState(expected: TreeState, actual: TreeState, what: string): void {
  assert.deepEqual(differences(expected.print, actual.print), [], `${what}: contents differ`);
  const drift: string[] = [];
  for (const [path, ns] of expected.mtimes) {
    const got = actual.mtimes.get(path);
    if (got === undefined || got - ns >= 1000n || ns - got >= 1000n) {
      drift.push(`${path}: mtime ${ns} restored as ${got ?? "nothing"}`);
    }
  }
  assert.deepEqual(drift, [], `${what}: mtimes differ`);
  assert.deepEqual(actual.hardlinks, expected.hardlinks, `${what}: hardlinks differ`);
}

/** Every path under `root` (relative, sorted), directories marked, the root as "". */
export async function listTree(root: string): Promise<{ path: string; dir: boolean }[]> {
  const out: { path: string; dir: boolean }[] = [{ path: "", dir: true }];
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel === "" ? name : join(rel, name);
      const dir = (await lstat(join(root, path))).isDirectory();
      out.push({ path, dir });
      if (dir) await visit(path);
    }
  };
  await visit("");
  return out;
}
