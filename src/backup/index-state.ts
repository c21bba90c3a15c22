/**
 * The index as check and prune see it: every index file read straight from the destination
 * (never the cache, which would hide damage), decoded one by one so a damaged file is reported
 * rather than stopping the read, and every location of every blob (the repository's BlobIndex
 * keeps only the first, and prune must see duplicates).
 */
import { RepoError } from "../repo/errors.ts";
import {
  indexSchema,
  packsOf,
  type BlobLocation,
  type IndexFile,
  type PackContents,
} from "../repo/index-file.ts";
import { isStorageError } from "../storage/errors.ts";
import { listNames, mapLimit, readAll } from "../repo/io.ts";
import { DIRS, fileKey, isObjectName } from "../repo/layout.ts";
import type { Repository } from "../repo/repository.ts";
import { decodeJson, openJson } from "../repo/sealed-file.ts";

/** An index file that could not be read or decoded. */
export interface IndexFailure {
  name: string;
  message: string;
}

/** What the index files on the destination say. */
export interface IndexState {
  /** Every index file name under `index/`, undecodable and superseded ones included. */
  names: string[];
  /** Decoded index files by name. */
  files: Map<string, IndexFile>;
  failures: IndexFailure[];
  /** Names some decoded file supersedes: their packs are listed again by that file. */
  superseded: Set<string>;
  /** Packs listed by live (not superseded) files. */
  packs: Map<string, PackContents>;
  /** Every location of every blob the live files list, in pack-listing order. */
  locations: Map<string, BlobLocation[]>;
}

/** Reads and decodes one index file from the destination. */
async function readIndexFile(repo: Repository, name: string): Promise<IndexFile | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readAll(repo.storage, fileKey("index", name));
  } catch (error) {
    // Removed between listing and reading: another run consolidated it, nothing is lost.
    if (isStorageError(error, "NOT_FOUND")) return undefined;
    throw error;
  }
  const what = `Index file index/${name}`;
  return decodeJson(indexSchema, openJson(repo.keys.encryption, "index", bytes, what), what);
}

/**
 * Lists and decodes every index file. Damaged files land in `failures` (storage failures other
 * than NOT_FOUND are thrown: they say nothing about the repository).
 */
export async function readIndexState(
  repo: Repository,
  onFile?: (done: number, total: number) => void,
): Promise<IndexState> {
  const names = (await listNames(repo.storage, DIRS.index))
    .map((entry) => entry.name)
    .filter(isObjectName)
    .sort();
  const files = new Map<string, IndexFile>();
  const failures: IndexFailure[] = [];
  let done = 0;
  await mapLimit(names, repo.storage.capabilities.maxConnections, async (name) => {
    try {
      const file = await readIndexFile(repo, name);
      if (file !== undefined) files.set(name, file);
    } catch (error) {
      if (!(error instanceof RepoError)) throw error;
      failures.push({ name, message: error.message });
    }
    onFile?.(++done, names.length);
  });
  const superseded = new Set<string>();
  for (const file of files.values()) for (const name of file.supersedes) superseded.add(name);
  const packs = new Map<string, PackContents>();
  for (const name of names) {
    const file = files.get(name);
    if (file === undefined || superseded.has(name)) continue;
    for (const pack of packsOf(file)) if (!packs.has(pack.id)) packs.set(pack.id, pack);
  }
  const locations = new Map<string, BlobLocation[]>();
  for (const pack of packs.values()) {
    for (const blob of pack.blobs) {
      const at: BlobLocation = {
        pack: pack.id,
        type: blob.type,
        offset: blob.offset,
        length: blob.length,
        rawLength: blob.rawLength,
      };
      const list = locations.get(blob.id);
      if (list === undefined) locations.set(blob.id, [at]);
      else list.push(at);
    }
  }
  failures.sort((a, b) => a.name.localeCompare(b.name));
  return { names, files, failures, superseded, packs, locations };
}
