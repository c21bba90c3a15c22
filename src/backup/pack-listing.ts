/** The packs stored under `data/`, and the size each indexed pack must have. */
import { SEAL_OVERHEAD } from "../repo/crypto.ts";
import type { PackContents } from "../repo/index-file.ts";
import { listNames, mapLimit } from "../repo/io.ts";
import { DIRS, isObjectName } from "../repo/layout.ts";
import { encodeHeader } from "../repo/pack.ts";
import type { Repository } from "../repo/repository.ts";

/**
 * Every pack in `data/`, by id, with its stored size: `data/` is listed once, then each of its
 * two-hex-digit directories once. Objects that are not packs are left out.
 */
export async function listStoredPacks(repo: Repository): Promise<Map<string, number>> {
  const dirs = (await listNames(repo.storage, DIRS.data))
    .map((entry) => entry.name)
    .filter((name) => /^[0-9a-f]{2}$/.test(name));
  const listings = await mapLimit(dirs, repo.storage.capabilities.maxConnections, async (dir) =>
    (await listNames(repo.storage, `${DIRS.data}/${dir}`)).filter(
      (entry) => isObjectName(entry.name) && entry.name.startsWith(dir),
    ),
  );
  const packs = new Map<string, number>();
  for (const listing of listings) for (const entry of listing) packs.set(entry.name, entry.size);
  return packs;
}

// Derived from the header encoder so that a format change cannot leave this behind.
const EMPTY_HEADER = encodeHeader([]).length;
const HEADER_ENTRY =
  encodeHeader([{ type: "data", id: new Uint8Array(32), offset: 0, length: 0, rawLength: 0 }])
    .length - EMPTY_HEADER;

/** The size of a pack holding `pack.blobs`: the blobs, the sealed header and its 4-byte length. */
export function expectedPackSize(pack: PackContents): number {
  const blobs = pack.blobs.reduce((sum, blob) => sum + blob.length, 0);
  return blobs + EMPTY_HEADER + HEADER_ENTRY * pack.blobs.length + SEAL_OVERHEAD + 4;
}
