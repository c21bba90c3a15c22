/**
 * What prune will do, decided from the index, the packs stored and the blobs snapshots use. Pure,
 * so a dry run and a real run make the same decisions and the rules can be tested on their own.
 */
import type { PackContents } from "../repo/index-file.ts";
import type { BlobType } from "../repo/pack.ts";

/** A blob entry of a pack. */
export type PackBlob = PackContents["blobs"][number];

/** A pack to rewrite: `move` are the blobs that go to new packs; the rest is dropped. */
export interface Repack {
  pack: PackContents;
  move: PackBlob[];
}

/** Prune's decisions. Listed packs are in exactly one of keep, remove, repack and missing. */
export interface PrunePlan {
  /** Listed and stored packs kept as they are. */
  keep: PackContents[];
  /** Listed and stored packs none of whose blobs are needed. */
  remove: PackContents[];
  /** Listed and stored packs with more unused bytes than allowed. */
  repack: Repack[];
  /** Packs in `data/` no live index lists, with their sizes. */
  unreferenced: { id: string; size: number }[];
  /** Listed packs that are not stored: they are dropped from the index. */
  missing: PackContents[];
  /** Used blobs no stored pack holds (as the type they are used as): prune must not run. */
  lost: string[];
  /** Blob bytes in kept packs that nothing needs (unused, or a copy owned by another pack). */
  keptUnusedBytes: number;
}

function sumLengths(blobs: readonly PackBlob[]): number {
  return blobs.reduce((sum, blob) => sum + blob.length, 0);
}

/**
 * Decides what to keep, remove and repack. Every used blob gets one owner: the stored pack with
 * the most used bytes that holds it, so of duplicate copies the one in the fuller pack survives.
 * A pack owning nothing is removed; one whose blobs are more than `maxUnused` (a fraction of its
 * blob bytes) not owned is repacked, moving only owned blobs no kept pack also holds.
 */
export function planPrune(
  packs: ReadonlyMap<string, PackContents>,
  stored: ReadonlyMap<string, number>,
  used: ReadonlyMap<string, BlobType>,
  maxUnused: number,
): PrunePlan {
  const isUsed = (blob: PackBlob): boolean => used.get(blob.id) === blob.type;
  const present: PackContents[] = [];
  const missing: PackContents[] = [];
  for (const pack of packs.values()) (stored.has(pack.id) ? present : missing).push(pack);
  const usedBytes = new Map(present.map((p) => [p.id, sumLengths(p.blobs.filter(isUsed))]));
  const byUse = [...present].sort(
    (a, b) => (usedBytes.get(b.id) ?? 0) - (usedBytes.get(a.id) ?? 0) || compare(a.id, b.id),
  );
  const owner = new Map<string, string>();
  for (const pack of byUse) {
    for (const blob of pack.blobs)
      if (isUsed(blob) && !owner.has(blob.id)) owner.set(blob.id, pack.id);
  }
  const lost = [...used.keys()].filter((id) => !owner.has(id)).sort(compare);

  const keep: PackContents[] = [];
  const remove: PackContents[] = [];
  const candidates: Repack[] = [];
  let keptUnusedBytes = 0;
  for (const pack of [...present].sort((a, b) => compare(a.id, b.id))) {
    const owned = new Map<string, PackBlob>();
    for (const blob of pack.blobs) {
      if (isUsed(blob) && owner.get(blob.id) === pack.id && !owned.has(blob.id)) {
        owned.set(blob.id, blob);
      }
    }
    const total = sumLengths(pack.blobs);
    const unused = total - sumLengths([...owned.values()]);
    if (owned.size === 0) remove.push(pack);
    else if (unused > maxUnused * total) candidates.push({ pack, move: [...owned.values()] });
    else {
      keep.push(pack);
      keptUnusedBytes += unused;
    }
  }
  const kept = new Set<string>();
  for (const pack of keep) for (const blob of pack.blobs) if (isUsed(blob)) kept.add(blob.id);
  const repack: Repack[] = [];
  for (const candidate of candidates) {
    const move = candidate.move.filter((blob) => !kept.has(blob.id));
    if (move.length === 0) remove.push(candidate.pack);
    else repack.push({ pack: candidate.pack, move });
  }
  const unreferenced = [...stored]
    .filter(([id]) => !packs.has(id))
    .map(([id, size]) => ({ id, size }))
    .sort((a, b) => compare(a.id, b.id));
  return { keep, remove, repack, unreferenced, missing, lost, keptUnusedBytes };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
