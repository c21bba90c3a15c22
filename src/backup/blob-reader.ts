/**
 * Reading blobs at locations check and prune chose themselves (the repository's own reader goes
 * through its BlobIndex, which prune cannot use: see index-state.ts).
 */
import { RepoError } from "../repo/errors.ts";
import type { BlobLocation } from "../repo/index-file.ts";
import { readAll } from "../repo/io.ts";
import { packKey } from "../repo/layout.ts";
import type { BlobType } from "../repo/pack.ts";
import type { Repository } from "../repo/repository.ts";
import { decodeTree, type TreeNode } from "../repo/tree.ts";
import { isStorageError } from "../storage/errors.ts";

/** Ranges closer than this are read as one, trading a little waste for fewer requests. */
const MAX_GAP = 256 * 1024;

/** Reads a range of a pack; DAMAGED naming the pack when it is missing or cut short. */
async function readPackRange(
  repo: Repository,
  pack: string,
  offset: number,
  length: number,
): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readAll(repo.storage, packKey(pack), { offset, length });
  } catch (error) {
    if (isStorageError(error, "NOT_FOUND")) {
      throw new RepoError("DAMAGED", `Pack ${pack.slice(0, 12)} is missing.`, { cause: error });
    }
    throw error;
  }
  if (bytes.length !== length) {
    throw new RepoError(
      "DAMAGED",
      `Pack ${pack.slice(0, 12)} is truncated: ${offset + bytes.length} bytes where at least ${offset + length} are needed.`,
    );
  }
  return bytes;
}

/**
 * The sealed bytes of some blobs of one pack, by id, read in as few ranged reads as their
 * layout allows. Bytes are not opened: the caller decides whether to.
 */
export async function readSealedBlobs(
  repo: Repository,
  pack: string,
  blobs: readonly { id: string; offset: number; length: number }[],
): Promise<Map<string, Buffer>> {
  const sorted = [...blobs].sort((a, b) => a.offset - b.offset);
  const out = new Map<string, Buffer>();
  let start = 0;
  while (start < sorted.length) {
    const first = sorted[start] as (typeof sorted)[number];
    let end = start + 1;
    let runEnd = first.offset + first.length;
    for (; end < sorted.length; end++) {
      const next = sorted[end] as (typeof sorted)[number];
      if (next.offset - runEnd > MAX_GAP) break;
      runEnd = Math.max(runEnd, next.offset + next.length);
    }
    const bytes = await readPackRange(repo, pack, first.offset, runEnd - first.offset);
    for (const blob of sorted.slice(start, end)) {
      const at = blob.offset - first.offset;
      out.set(blob.id, bytes.subarray(at, at + blob.length));
    }
    start = end;
  }
  return out;
}

/**
 * Loads and authenticates blobs at the locations `locate` picks. Tree packs are read whole once
 * (trees are small and many), data blobs by ranged reads.
 */
export class BlobReader {
  readonly #repo: Repository;
  readonly #locate: (id: string) => BlobLocation | undefined;
  readonly #treePacks = new Map<string, Promise<Buffer>>();

  constructor(repo: Repository, locate: (id: string) => BlobLocation | undefined) {
    this.#repo = repo;
    this.#locate = locate;
  }

  /**
   * The plaintext of a blob. NOT_FOUND when no index lists it (as this type); DAMAGED when its
   * pack is missing or short or the blob fails authentication.
   */
  async load(type: BlobType, id: string): Promise<Buffer> {
    const at = this.#locate(id);
    const what = `${type === "tree" ? "Tree" : "Data"} blob ${id.slice(0, 12)}`;
    if (at === undefined) throw new RepoError("NOT_FOUND", `${what} is not in any index.`);
    if (at.type !== type) {
      throw new RepoError("NOT_FOUND", `${what} is indexed as a ${at.type} blob, not a ${type}.`);
    }
    let sealed: Buffer;
    if (type === "tree") {
      const pack = await this.#treePack(at.pack);
      sealed = pack.subarray(at.offset, at.offset + at.length);
      if (sealed.length !== at.length) {
        throw new RepoError(
          "DAMAGED",
          `Pack ${at.pack.slice(0, 12)} is truncated: ${what} is cut short.`,
        );
      }
    } else {
      sealed = await readPackRange(this.#repo, at.pack, at.offset, at.length);
    }
    return this.#repo.openBlob(type, id, sealed, at.rawLength);
  }

  /** Loads and decodes a tree. */
  async loadTree(id: string): Promise<TreeNode[]> {
    return decodeTree(await this.load("tree", id), `Tree ${id.slice(0, 12)}`);
  }

  #treePack(pack: string): Promise<Buffer> {
    let pending = this.#treePacks.get(pack);
    if (pending === undefined) {
      pending = readAll(this.#repo.storage, packKey(pack)).catch((error: unknown) => {
        if (isStorageError(error, "NOT_FOUND")) {
          throw new RepoError("DAMAGED", `Pack ${pack.slice(0, 12)} is missing.`, {
            cause: error,
          });
        }
        throw error;
      });
      this.#treePacks.set(pack, pending);
    }
    return pending;
  }
}
