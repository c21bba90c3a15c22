/**
 * Where each object lives in the backup directory (docs/format.md, "Layout"). Names are 64
 * lowercase hex characters; packs are spread over 256 directories by their first two.
 */

/** Object kinds with their own directory, and the associated data their sealing uses. */
export type FileKind = "config" | "key" | "index" | "snapshot" | "lock";

export const CONFIG_KEY = "config";
export const DIRS = {
  key: "keys",
  index: "index",
  snapshot: "snapshots",
  lock: "locks",
  data: "data",
} as const;

const HEX64 = /^[0-9a-f]{64}$/;

/** True for a well-formed object name. */
export function isObjectName(name: string): boolean {
  return HEX64.test(name);
}

/** The storage key of a pack. */
export function packKey(id: string): string {
  return `${DIRS.data}/${id.slice(0, 2)}/${id}`;
}

/** The storage key of a key, index, snapshot or lock file. */
export function fileKey(kind: Exclude<FileKind, "config">, id: string): string {
  return `${DIRS[kind]}/${id}`;
}

/** Associated data binding a sealed file to its kind, so an index cannot pass for a snapshot. */
export function fileAd(kind: FileKind): Uint8Array {
  return new TextEncoder().encode(`ferry/${kind}`);
}
