/**
 * Index files: which pack holds each blob, where, and how long. A backup writes one per stored
 * pack as it goes (so an interrupted run's packs are found by the next) and one consolidated
 * index at the end that supersedes them.
 */
import { z } from "zod";
import type { BlobType } from "./pack.ts";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const indexSchema = z.object({
  version: z.literal(1),
  supersedes: z.array(hex64),
  packs: z.array(
    z.object({
      id: hex64,
      /** Blobs as `[type (0 data, 1 tree), id, offset, length, rawLength]`. */
      blobs: z.array(
        z.tuple([
          z.union([z.literal(0), z.literal(1)]),
          hex64,
          z.int().min(0),
          z.int().min(0),
          z.int().min(0),
        ]),
      ),
    }),
  ),
});

/** A decoded index file. */
export type IndexFile = z.infer<typeof indexSchema>;

/** Where one blob is stored. */
export interface BlobLocation {
  pack: string;
  type: BlobType;
  offset: number;
  length: number;
  rawLength: number;
}

/** Blobs of one pack, as the index lists them. */
export interface PackContents {
  id: string;
  blobs: { type: BlobType; id: string; offset: number; length: number; rawLength: number }[];
}

/** The index file listing `packs`. */
export function toIndexFile(
  packs: readonly PackContents[],
  supersedes: readonly string[] = [],
): IndexFile {
  return {
    version: 1,
    supersedes: [...supersedes],
    packs: packs.map((p) => ({
      id: p.id,
      blobs: p.blobs.map(
        (b) =>
          [b.type === "data" ? 0 : 1, b.id, b.offset, b.length, b.rawLength] as [
            0 | 1,
            string,
            number,
            number,
            number,
          ],
      ),
    })),
  };
}

/** The packs of an index file in the shape the rest of the code uses. */
export function packsOf(file: IndexFile): PackContents[] {
  return file.packs.map((pack) => ({
    id: pack.id,
    blobs: pack.blobs.map(([type, id, offset, length, rawLength]) => ({
      type: type === 0 ? ("data" as const) : ("tree" as const),
      id,
      offset,
      length,
      rawLength,
    })),
  }));
}

/** In-memory map from blob id (hex) to location, with the packs it knows. */
export class BlobIndex {
  readonly #blobs = new Map<string, BlobLocation>();
  readonly #packs = new Map<string, string[]>();

  /** Adds every blob of an index file. */
  addFile(file: IndexFile): void {
    for (const pack of packsOf(file)) this.addPack(pack);
  }

  /** Adds one pack's blobs. A blob already known elsewhere keeps its first location. */
  addPack(pack: PackContents): void {
    const ids = this.#packs.get(pack.id) ?? [];
    for (const blob of pack.blobs) {
      ids.push(blob.id);
      if (!this.#blobs.has(blob.id)) {
        this.#blobs.set(blob.id, {
          pack: pack.id,
          type: blob.type,
          offset: blob.offset,
          length: blob.length,
          rawLength: blob.rawLength,
        });
      }
    }
    this.#packs.set(pack.id, ids);
  }

  /** Where a blob is, if known. */
  get(id: string): BlobLocation | undefined {
    return this.#blobs.get(id);
  }

  has(id: string): boolean {
    return this.#blobs.has(id);
  }

  /** Every known pack id. */
  packs(): IterableIterator<string> {
    return this.#packs.keys();
  }

  /** Blob ids listed for a pack. */
  blobsOf(pack: string): readonly string[] {
    return this.#packs.get(pack) ?? [];
  }

  /** Every blob and its location. */
  entries(): IterableIterator<[string, BlobLocation]> {
    return this.#blobs.entries();
  }

  get size(): number {
    return this.#blobs.size;
  }
}
