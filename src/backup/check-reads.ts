/** The pieces of `check` that read single objects and decide what to read. */
import { randomInt } from "node:crypto";
import { RepoError } from "../repo/errors.ts";
import type { PackContents } from "../repo/index-file.ts";
import { readAll } from "../repo/io.ts";
import { fileKey } from "../repo/layout.ts";
import type { Repository } from "../repo/repository.ts";
import { contentName, decodeJson, openJson } from "../repo/sealed-file.ts";
import { snapshotSchema, type Snapshot } from "../repo/snapshot.ts";
import { isStorageError } from "../storage/errors.ts";
import type { CheckOptions } from "./check.ts";

/** Which packs to download, validating the options. */
export function packsToRead(
  packs: readonly PackContents[],
  options: Pick<CheckOptions, "readData" | "readDataSubset">,
): PackContents[] {
  if (options.readData === true) return [...packs];
  const percent = options.readDataSubset;
  if (percent === undefined) return [];
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new RepoError(
      "INVALID",
      `The read-data subset must be a percentage from 0 to 100; got ${String(percent)}.`,
    );
  }
  const pool = [...packs];
  const count = Math.ceil((pool.length * percent) / 100);
  // Partial Fisher-Yates: the first `count` entries end up a uniform random sample.
  for (let i = 0; i < count; i++) {
    const j = i + randomInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j] as PackContents, pool[i] as PackContents];
  }
  return pool.slice(0, count);
}

/** Reads and decodes a snapshot straight from the destination; undefined when it is gone. */
export async function readSnapshot(repo: Repository, id: string): Promise<Snapshot | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readAll(repo.storage, fileKey("snapshot", id));
  } catch (error) {
    if (isStorageError(error, "NOT_FOUND")) return undefined;
    throw error;
  }
  const what = `Snapshot ${id}`;
  if (contentName(bytes) !== id) {
    throw new RepoError(
      "DAMAGED",
      `${what} does not match its name: it was modified or truncated.`,
    );
  }
  return decodeJson(snapshotSchema, openJson(repo.keys.encryption, "snapshot", bytes, what), what);
}

/** Why a pack's header disagrees with its index entry, or undefined when they agree. */
export function describeHeaderMismatch(
  pack: PackContents,
  header: readonly {
    type: string;
    id: Uint8Array;
    offset: number;
    length: number;
    rawLength: number;
  }[],
): string | undefined {
  if (header.length !== pack.blobs.length) {
    return `its header lists ${header.length} blobs where the index lists ${pack.blobs.length}`;
  }
  for (const [i, blob] of pack.blobs.entries()) {
    const h = header[i];
    if (
      h === undefined ||
      h.type !== blob.type ||
      Buffer.from(h.id).toString("hex") !== blob.id ||
      h.offset !== blob.offset ||
      h.length !== blob.length ||
      h.rawLength !== blob.rawLength
    ) {
      return `its header and the index differ at blob ${i + 1} (${blob.id.slice(0, 12)})`;
    }
  }
  return undefined;
}
