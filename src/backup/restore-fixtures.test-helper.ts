/**
 * Repositories built by hand for restore and dump tests: trees and blobs written through the
 * Packer exactly as given, so a test can craft what no backup would write (hostile names,
 * shared inodes, damaged packs), plus a description of a directory on disk to compare against.
 */
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { packKey } from "../repo/layout.ts";
import { Packer } from "../repo/packer.ts";
import { Repository } from "../repo/repository.ts";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { encodeTree, type NodeType, type TreeNode } from "../repo/tree.ts";
import { MemoryServer } from "../storage/adapters/memory.ts";
import { openStorage } from "../storage/open.ts";
import { parseSettings } from "../storage/settings.ts";
import { TEST_KDF } from "../../test/repo/helpers.ts";

/** Metadata a fixture node may set; the rest gets defaults. */
export type Meta = Partial<Pick<TreeNode, "mode" | "uid" | "gid" | "mtime" | "inode" | "links">>;

/** A node of a hand-built snapshot. */
export type Fixture =
  | ({ type: "file"; data: string | Buffer } & Meta)
  | ({ type: "dir"; children: Record<string, Fixture>; tree?: string } & Meta)
  | ({ type: "symlink"; target: string } & Meta)
  | ({ type: Exclude<NodeType, "file" | "dir" | "symlink"> } & Meta);

/** A file fixture. */
export function file(data: string | Buffer, meta: Meta = {}): Fixture {
  return { type: "file", data, ...meta };
}

/** A directory fixture. */
export function dir(children: Record<string, Fixture>, meta: Meta = {}): Fixture {
  return { type: "dir", children, ...meta };
}

/** A symlink fixture. */
export function symlinkTo(target: string, meta: Meta = {}): Fixture {
  return { type: "symlink", target, ...meta };
}

/** The default mtime of fixtures: 2023-11-14, with nanoseconds. */
export const MTIME = "1700000000123456789";

/** Options of {@link RepoBuilder.create}. */
export interface BuildOptions {
  /** Fixture files are cut into pieces of this size [100 KiB]. */
  chunkSize?: number;
  /** Pack target size [300 KiB, so a few hundred KiB of data spans several packs]. */
  packTarget?: number;
  maxConnections?: number;
}

/** Writes hand-made trees and snapshots into a fresh repository on a memory server. */
export class RepoBuilder {
  readonly server: MemoryServer;
  readonly repo: Repository;
  readonly #chunkSize: number;
  #packer: Packer;
  #inode = 1000;

  private constructor(server: MemoryServer, repo: Repository, chunkSize: number) {
    this.server = server;
    this.repo = repo;
    this.#chunkSize = chunkSize;
    this.#packer = new Packer(repo);
  }

  static async create(options: BuildOptions = {}): Promise<RepoBuilder> {
    const server = new MemoryServer();
    const storage = await openStorage(
      parseSettings({
        type: "memory",
        path: "/repo",
        maxConnections: options.maxConnections ?? 4,
      }),
      { memory: server, retry: { baseDelayMs: 1, maxDelayMs: 2 } },
    );
    const target = options.packTarget ?? 300 * 1024;
    const repo = await Repository.init(storage, "pw", {
      kdf: TEST_KDF,
      cacheRoot: null,
      packSize: { target, max: 64 * 1024 * 1024 },
    });
    return new RepoBuilder(server, repo, options.chunkSize ?? 100 * 1024);
  }

  /** Stores a blob of plaintext; returns its id. */
  async blob(type: "data" | "tree", plain: Uint8Array): Promise<string> {
    const id = this.repo.blobId(plain);
    const hex = id.toString("hex");
    await this.#packer.add(type, hex, this.repo.sealBlob(type, id, plain), plain.length);
    return hex;
  }

  /** Stores a directory's tree (and everything below it); returns the tree id. */
  async tree(children: Record<string, Fixture>): Promise<string> {
    const nodes: TreeNode[] = [];
    for (const [name, fixture] of Object.entries(children))
      nodes.push(await this.node(name, fixture));
    return this.blob("tree", encodeTree(nodes));
  }

  /** The tree node for a fixture, storing its contents. */
  async node(name: string, fixture: Fixture): Promise<TreeNode> {
    const node: TreeNode = {
      name,
      type: fixture.type,
      mode:
        fixture.mode ??
        (fixture.type === "dir" ? 0o755 : fixture.type === "symlink" ? 0o777 : 0o644),
      uid: fixture.uid ?? process.getuid?.() ?? 0,
      gid: fixture.gid ?? process.getgid?.() ?? 0,
      mtime: fixture.mtime ?? MTIME,
      ctime: MTIME,
      size: 0,
      inode: fixture.inode ?? this.#inode++,
      device: 1,
      links: fixture.links ?? 1,
    };
    if (fixture.type === "file") {
      const data = Buffer.from(fixture.data);
      node.size = data.length;
      node.content = [];
      for (let at = 0; at < data.length; at += this.#chunkSize) {
        node.content.push(await this.blob("data", data.subarray(at, at + this.#chunkSize)));
      }
    } else if (fixture.type === "dir") {
      node.subtree = fixture.tree ?? (await this.tree(fixture.children));
    } else if (fixture.type === "symlink") {
      node.target = fixture.target;
    }
    return node;
  }

  /** Stores every pending pack and a snapshot of `root` (children of `/`, or a tree id). */
  async snapshot(root: Record<string, Fixture> | string): Promise<SnapshotEntry> {
    const tree = typeof root === "string" ? root : await this.tree(root);
    await this.#packer.finish();
    this.#packer = new Packer(this.repo);
    const snapshot = {
      version: 1 as const,
      time: new Date().toISOString(),
      host: "test",
      user: "test",
      uid: 0,
      gid: 0,
      paths: ["/"],
      tags: [],
      tree,
      program: "restore tests",
    };
    return { id: await this.repo.saveSnapshot(snapshot), snapshot };
  }

  /** The stored bytes of a pack on the memory server, to damage them in place. */
  packBytes(pack: string): Buffer {
    const stored = this.server.nodes.get(`/repo/${packKey(pack)}`);
    if (stored === undefined) throw new Error(`no pack ${pack}`);
    return stored.data;
  }

  /** Replaces a pack's bytes on the memory server (to truncate it). */
  setPackBytes(pack: string, bytes: Buffer): void {
    const stored = this.server.nodes.get(`/repo/${packKey(pack)}`);
    if (stored === undefined) throw new Error(`no pack ${pack}`);
    stored.data = bytes;
  }

  /** Removes a pack from the memory server. */
  removePack(pack: string): void {
    this.server.nodes.delete(`/repo/${packKey(pack)}`);
  }
}

/** One path of a directory on disk, as restore tests compare it. */
export interface Described {
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  mtimeNs: bigint;
  size: number;
  sha256?: string;
  target?: string;
  ino: bigint;
}

/** Every path below `root` (relative, `/`-separated) with its type, mode, mtime and contents. */
export async function describeTree(root: string): Promise<Map<string, Described>> {
  const out = new Map<string, Described>();
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const full = join(root, path);
      const st = await lstat(full, { bigint: true });
      const entry: Described = {
        type: st.isFile()
          ? "file"
          : st.isDirectory()
            ? "dir"
            : st.isSymbolicLink()
              ? "symlink"
              : "other",
        mode: Number(st.mode & 0o7777n),
        mtimeNs: st.mtimeNs,
        size: Number(st.size),
        ino: st.ino,
      };
      if (st.isFile())
        entry.sha256 = createHash("sha256")
          .update(await readFile(full))
          .digest("hex");
      if (st.isSymbolicLink()) entry.target = await readlink(full);
      out.set(path, entry);
      if (st.isDirectory()) await visit(path);
    }
  };
  await visit("");
  return out;
}

/** The SHA-256 of some bytes, hex. */
export function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Bytes that do not compress and differ per seed. */
export function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
