/**
 * Repositories built by hand for check, prune and forget tests: files are cut into fixed-size
 * chunks and packed directly, so a test controls which blobs share a pack. Plus the raw views of
 * a memory server the tests need: cloning it, hashing its tree, counting and failing operations.
 */
import { createHash, randomBytes } from "node:crypto";
import { MemoryServer, type MemoryOperation } from "../../src/storage/adapters/memory.ts";
import { StorageError } from "../../src/storage/errors.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { Storage } from "../../src/storage/storage.ts";
import { Packer } from "../../src/repo/packer.ts";
import { Repository } from "../../src/repo/repository.ts";
import { encodeTree, type TreeNode } from "../../src/repo/tree.ts";
import { TEST_KDF } from "./helpers.ts";

/** Where the repository lives on the memory server. */
export const ROOT = "/backup";

/** Storage settings the maintenance tests use. */
export interface FixtureSettings {
  readOnly?: boolean;
  /** One connection (the default) makes the order of operations repeatable. */
  maxConnections?: number;
}

/** Opens the memory server as storage; no retries, so an injected failure fails at once. */
export function openMemory(server: MemoryServer, settings: FixtureSettings = {}): Promise<Storage> {
  return openStorage(
    parseSettings({
      type: "memory",
      maxRetries: 0,
      maxConnections: settings.maxConnections ?? 1,
      readOnly: settings.readOnly ?? false,
    }),
    { memory: server },
  );
}

/**
 * A new repository whose packs close at 1 MiB: each {@link storeSnapshot} call puts its new data
 * blobs in one data pack and its trees in one tree pack.
 */
export async function newRepo(
  server = new MemoryServer(),
): Promise<{ server: MemoryServer; repo: Repository }> {
  const repo = await Repository.init(await openMemory(server), "pw", {
    kdf: TEST_KDF,
    cacheRoot: null,
    packSize: { target: 1024 * 1024, max: 64 * 1024 * 1024 },
  });
  return { server, repo };
}

/** The repository on `server` opened afresh, as another process would. */
export async function openRepo(
  server: MemoryServer,
  settings: FixtureSettings = {},
): Promise<Repository> {
  return Repository.open(await openMemory(server, settings), "pw", { cacheRoot: null });
}

/** Relative path (`dir/file`) → content. */
export type Files = Map<string, Buffer>;

/** Incompressible content, so sealed sizes are predictable. */
export function content(size: number): Buffer {
  return randomBytes(size);
}

interface Dir {
  files: Map<string, Buffer>;
  dirs: Map<string, Dir>;
}

function toDir(files: Files): Dir {
  const root: Dir = { files: new Map(), dirs: new Map() };
  for (const [path, data] of files) {
    const parts = path.split("/");
    const name = parts.pop() ?? "";
    let dir = root;
    for (const part of parts) {
      let next = dir.dirs.get(part);
      if (next === undefined) dir.dirs.set(part, (next = { files: new Map(), dirs: new Map() }));
      dir = next;
    }
    dir.files.set(name, data);
  }
  return root;
}

function node(name: string, type: "file" | "dir", size: number): TreeNode {
  return {
    name,
    type,
    mode: type === "dir" ? 0o755 : 0o644,
    uid: 1000,
    gid: 1000,
    mtime: "1700000000000000000",
    ctime: "1700000000000000000",
    size,
    inode: 0,
    device: 0,
    links: 1,
  };
}

async function storeDir(
  repo: Repository,
  packer: Packer,
  dir: Dir,
  chunk: number,
): Promise<string> {
  const nodes: TreeNode[] = [];
  for (const [name, data] of dir.files) {
    const ids: string[] = [];
    for (let at = 0; at < data.length; at += chunk) {
      const piece = data.subarray(at, at + chunk);
      const id = repo.blobId(piece);
      ids.push(id.toString("hex"));
      await packer.add("data", id.toString("hex"), repo.sealBlob("data", id, piece), piece.length);
    }
    nodes.push({ ...node(name, "file", data.length), content: ids });
  }
  for (const [name, sub] of dir.dirs) {
    nodes.push({ ...node(name, "dir", 0), subtree: await storeDir(repo, packer, sub, chunk) });
  }
  const bytes = encodeTree(nodes);
  const id = repo.blobId(bytes);
  await packer.add("tree", id.toString("hex"), repo.sealBlob("tree", id, bytes), bytes.length);
  return id.toString("hex");
}

/**
 * Stores `files` as a snapshot taken at `time`: chunks of `chunk` bytes, blobs already in the
 * repository's in-memory index are not stored again. Returns the snapshot id.
 */
export async function storeSnapshot(
  repo: Repository,
  files: Files,
  time: string,
  options: { chunk?: number; host?: string; paths?: string[]; tags?: string[] } = {},
): Promise<string> {
  const packer = new Packer(repo);
  const tree = await storeDir(repo, packer, toDir(files), options.chunk ?? 1024);
  await packer.finish();
  return repo.saveSnapshot({
    version: 1,
    time,
    host: options.host ?? "host",
    user: "user",
    uid: 1000,
    gid: 1000,
    paths: options.paths ?? ["/data"],
    tags: options.tags ?? [],
    tree,
    program: "fixture",
  });
}

async function readDir(repo: Repository, tree: string, prefix: string, out: Files): Promise<void> {
  for (const entry of await repo.loadTree(tree)) {
    const path = `${prefix}${entry.name}`;
    if (entry.subtree !== undefined) await readDir(repo, entry.subtree, `${path}/`, out);
    else if (entry.type === "file") {
      const parts: Buffer[] = [];
      for (const id of entry.content ?? []) parts.push(await repo.loadBlob("data", id));
      out.set(path, Buffer.concat(parts));
    }
  }
}

/**
 * Every regular file of a snapshot, read back through a freshly opened repository (so through
 * the index as stored, not as a test's repository object remembers it).
 */
export async function readBack(server: MemoryServer, id: string): Promise<Files> {
  const repo = await openRepo(server);
  await repo.loadIndex();
  const snapshot = await repo.loadSnapshot(id);
  const out: Files = new Map();
  await readDir(repo, snapshot.tree, "", out);
  return out;
}

/** A copy of the server's whole tree, for replaying the same starting point. */
export function cloneServer(server: MemoryServer): MemoryServer {
  const copy = new MemoryServer();
  for (const [path, entry] of server.nodes) {
    copy.nodes.set(path, { ...entry, data: Buffer.from(entry.data), mtime: new Date(entry.mtime) });
  }
  return copy;
}

/** Path → SHA-256 of every object (`dir` for directories), sorted. */
export function rawTree(server: MemoryServer): [string, string][] {
  return [...server.nodes]
    .map(([path, entry]): [string, string] => [
      path,
      entry.type === "directory" ? "dir" : createHash("sha256").update(entry.data).digest("hex"),
    ])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Keys of the objects under a directory of the repository (`data` is searched recursively). */
export function objects(
  server: MemoryServer,
  dir: "index" | "snapshots" | "data" | "locks",
): string[] {
  const prefix = `${ROOT}/${dir}/`;
  return [...server.nodes]
    .filter(([path, entry]) => path.startsWith(prefix) && entry.type === "file")
    .map(([path]) => path.slice(path.lastIndexOf("/") + 1))
    .sort();
}

/** The stored bytes of a pack, for tests to damage in place. */
export function packNode(server: MemoryServer, id: string): { data: Buffer } {
  const entry = server.nodes.get(`${ROOT}/data/${id.slice(0, 2)}/${id}`);
  if (entry === undefined) throw new Error(`no pack ${id}`);
  return entry;
}

/** Operations that change the destination. */
const MUTATING: ReadonlySet<MemoryOperation> = new Set([
  "write",
  "rename",
  "remove",
  "removeDir",
  "mkdir",
  "setMtime",
]);

/** One mutating operation the server saw. */
export interface RecordedOperation {
  operation: MemoryOperation;
  path: string;
}

function isLock(path: string): boolean {
  return path === `${ROOT}/locks` || path.startsWith(`${ROOT}/locks/`);
}

/** Records mutating operations (lock files aside) while `fn` runs. */
export async function recordMutations<T>(
  server: MemoryServer,
  fn: () => Promise<T>,
): Promise<{ result: T; operations: RecordedOperation[] }> {
  const operations: RecordedOperation[] = [];
  server.fault = (operation, path) => {
    if (MUTATING.has(operation) && !isLock(path)) operations.push({ operation, path });
    return undefined;
  };
  try {
    return { result: await fn(), operations };
  } finally {
    server.fault = undefined;
  }
}

/**
 * Fails the `n`-th (from 0) mutating operation outside `locks/`, once, with a non-retriable
 * error; returns a function telling whether it fired.
 */
export function failNth(server: MemoryServer, n: number): () => boolean {
  let seen = 0;
  let fired = false;
  server.fault = (operation, path) => {
    if (!MUTATING.has(operation) || isLock(path) || fired) return undefined;
    if (seen++ !== n) return undefined;
    fired = true;
    return new StorageError("PERMISSION", `Injected failure of ${operation} "${path}".`, {
      retriable: false,
    });
  };
  return () => fired;
}

/** The repository most maintenance tests start from; see {@link scenario}. */
export interface Scenario {
  server: MemoryServer;
  /** The repository object that wrote everything (its in-memory index knows every blob). */
  repo: Repository;
  /** Snapshot ids, oldest first. */
  snapshots: [string, string, string];
  /** Each snapshot's files. */
  files: [Files, Files, Files];
  /** Content of the four files: a, b, c, d (4 KiB each, four 1 KiB chunks). */
  content: { a: Buffer; b: Buffer; c: Buffer; d: Buffer };
  /** Pack ids: data and tree pack of each snapshot. */
  packs: { d1: string; t1: string; d2: string; t2: string; d3: string; t3: string };
}

/** The id of the first 1 KiB chunk of `data`. */
export function firstChunk(repo: Repository, data: Buffer): string {
  return repo.blobId(data.subarray(0, 1024)).toString("hex");
}

/**
 * Three snapshots, each writing one data pack and one tree pack:
 * - S1 (2024-01-01): `dir/a`, `b` → D1 = b's and a's chunks, T1 = S1's two trees
 * - S2 (2024-01-02): `a2` (a's content again, deduplicated), `c` → D2 = c's chunks, T2
 * - S3 (2024-01-03): `d` → D3, T3
 * Forgetting S1 leaves D1 half used and T1 unused.
 */
export async function scenario(): Promise<Scenario> {
  const { server, repo } = await newRepo();
  const a = content(4096);
  const b = content(4096);
  const c = content(4096);
  const d = content(4096);
  const files: [Files, Files, Files] = [
    new Map([
      ["dir/a", a],
      ["b", b],
    ]),
    new Map([
      ["a2", a],
      ["c", c],
    ]),
    new Map([["d", d]]),
  ];
  const snapshots: [string, string, string] = [
    await storeSnapshot(repo, files[0], "2024-01-01T00:00:00.000Z"),
    await storeSnapshot(repo, files[1], "2024-01-02T00:00:00.000Z"),
    await storeSnapshot(repo, files[2], "2024-01-03T00:00:00.000Z"),
  ];
  const packOf = (blob: string): string => {
    const at = repo.index.get(blob);
    if (at === undefined) throw new Error(`blob ${blob} is not indexed`);
    return at.pack;
  };
  const treeOf = async (id: string): Promise<string> => packOf((await repo.loadSnapshot(id)).tree);
  return {
    server,
    repo,
    snapshots,
    files,
    content: { a, b, c, d },
    packs: {
      d1: packOf(firstChunk(repo, a)),
      t1: await treeOf(snapshots[0]),
      d2: packOf(firstChunk(repo, c)),
      t2: await treeOf(snapshots[1]),
      d3: packOf(firstChunk(repo, d)),
      t3: await treeOf(snapshots[2]),
    },
  };
}
