/**
 * `ferry dump`: one file's bytes, or a tar of a directory, written to a stream. Every blob is
 * authenticated before its bytes are written; blobs are fetched a few ahead of the writer.
 */
import { once } from "node:events";
import { RepoError } from "../repo/errors.ts";
import type { Repository } from "../repo/repository.ts";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import type { TreeNode } from "../repo/tree.ts";
import { findNode, planRestore, type PlanEntry } from "./restore-plan.ts";
import { padding, tarEnd, tarHeader, type TarEntry, type TarType } from "./tar.ts";

/**
 * Writes what is at `path` in a snapshot to `out`: a file's contents as they are, or a
 * directory (`/` for the whole snapshot) as a tar archive (ustar with pax headers). Tar names
 * are snapshot paths without the leading `/` (`srv/www/index.html`); hardlinks are tar
 * hardlinks to the first member; sockets are left out. Rejects with NOT_FOUND when nothing is
 * at `path`, INVALID for a symlink or special file, DAMAGED when a blob fails authentication
 * (the output is then cut short). Honours `out`'s backpressure and does not end it.
 */
export async function dump(
  repo: Repository,
  snapshot: SnapshotEntry,
  path: string,
  out: NodeJS.WritableStream,
): Promise<void> {
  await repo.loadIndex();
  const root = await findNode(repo, snapshot.snapshot, path);
  const window = Math.max(2, repo.storage.capabilities.maxConnections * 2);
  if (root.node?.type === "file") {
    const contents = new BlobQueue(repo, [root.node], window);
    await contents.copy(root.node, out);
    return;
  }
  if (root.node !== undefined && root.node.type !== "dir") {
    throw new RepoError(
      "INVALID",
      `${root.path} is a ${root.node.type}, not a file or a directory; dump writes a file's bytes or a tar of a directory.`,
    );
  }
  const plan = await planRestore(repo, snapshot.snapshot, root.path);
  const contents = new BlobQueue(
    repo,
    plan.entries.filter((e) => e.kind === "file").map((e) => e.node),
    window,
  );
  if (root.node !== undefined) {
    await put(out, tarHeader(header(`${root.path.slice(1)}/`, "dir", root.node, 0)));
  }
  for (const entry of plan.entries) {
    const name = entry.path.slice(1);
    const { node } = entry;
    switch (entry.kind) {
      case "dir":
        await put(out, tarHeader(header(`${name}/`, "dir", node, 0)));
        break;
      case "file": {
        const size = contents.sizeOf(node);
        await put(out, tarHeader(header(name, "file", node, size)));
        await contents.copy(node, out);
        await put(out, padding(size));
        break;
      }
      case "hardlink":
        await put(out, tarHeader(linkHeader(name, "hardlink", node, entry)));
        break;
      case "symlink":
        await put(out, tarHeader(linkHeader(name, "symlink", node, entry)));
        break;
      case "special":
        if (node.type !== "socket") await put(out, tarHeader(special(name, node)));
        break;
    }
  }
  await put(out, tarEnd());
}

function header(name: string, type: TarType, node: TreeNode, size: number): TarEntry {
  return {
    name,
    type,
    mode: node.mode,
    uid: node.uid,
    gid: node.gid,
    uname: node.user,
    gname: node.group,
    size,
    mtimeNs: BigInt(node.mtime),
  };
}

function linkHeader(name: string, type: TarType, node: TreeNode, entry: PlanEntry): TarEntry {
  const linkname = type === "hardlink" ? entry.linkTo?.path.slice(1) : node.target;
  return { ...header(name, type, node, 0), linkname: linkname ?? "" };
}

/** A device or FIFO header; Linux packs major and minor numbers into rdev this way. */
function special(name: string, node: TreeNode): TarEntry {
  const type: TarType =
    node.type === "dev" ? "blockdev" : node.type === "chardev" ? "chardev" : "fifo";
  const rdev = BigInt(node.rdev ?? 0);
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { ...header(name, type, node, 0), devmajor: Number(major), devminor: Number(minor) };
}

/** Writes with backpressure. */
async function put(out: NodeJS.WritableStream, bytes: Uint8Array): Promise<void> {
  if (bytes.length > 0 && !out.write(bytes)) await once(out, "drain");
}

/**
 * The chunks of a list of files, loaded up to `window` blobs ahead of the writer, in order,
 * across file boundaries (many small files would otherwise wait for a round trip each).
 */
class BlobQueue {
  readonly #repo: Repository;
  readonly #ids: string[];
  readonly #window: number;
  readonly #pending: Promise<Buffer>[] = [];
  #next = 0;

  constructor(repo: Repository, files: readonly TreeNode[], window: number) {
    this.#repo = repo;
    this.#ids = files.flatMap((f) => f.content ?? []);
    this.#window = window;
  }

  /** A file's size from the index (the bytes that will be written); DAMAGED for unknown blobs. */
  sizeOf(node: TreeNode): number {
    let size = 0;
    for (const id of node.content ?? []) size += this.#repo.locate("data", id).rawLength;
    return size;
  }

  /** Writes the next file's chunks (the one `node` names) to `out`. */
  async copy(node: TreeNode, out: NodeJS.WritableStream): Promise<void> {
    for (const id of node.content ?? []) {
      const expected = this.#repo.locate("data", id).rawLength;
      while (this.#pending.length < this.#window && this.#next < this.#ids.length) {
        const loading = this.#repo.loadBlob("data", this.#ids[this.#next++] as string);
        // Failures surface when the blob's turn comes; until then they must not go unhandled.
        loading.catch(() => undefined);
        this.#pending.push(loading);
      }
      const data = await (this.#pending.shift() as Promise<Buffer>);
      if (data.length !== expected) {
        throw new RepoError(
          "DAMAGED",
          `Data blob ${id.slice(0, 12)} holds ${data.length} bytes, its index entry says ${expected}.`,
        );
      }
      await put(out, data);
    }
  }
}
