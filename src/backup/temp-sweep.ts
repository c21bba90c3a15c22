/**
 * Temporary objects left by uploads that never finished (a killed backup: `.name.ferry-tmp-…`
 * beside the object it was writing). Listings hide them, so only a caller that knows no upload
 * is running may look for them and remove them: prune, under its exclusive lock.
 */
import { isStorageError } from "../storage/errors.ts";
import type { Storage } from "../storage/storage.ts";
import { DIRS } from "../repo/layout.ts";

/** What a sweep found (and removed, unless it was a dry run). */
export interface SweepResult {
  objects: number;
  bytes: number;
}

async function entries(storage: Storage, dir: string) {
  const out: { name: string; size: number; type: string; temporary: boolean }[] = [];
  try {
    for await (const entry of storage.list(dir, { temporary: true })) {
      out.push({
        name: entry.name,
        size: entry.size,
        type: entry.type,
        temporary: entry.temporary === true,
      });
    }
  } catch (error) {
    if (isStorageError(error, "NOT_FOUND")) return out;
    throw error;
  }
  return out;
}

/** Finds temporary objects in the repository's directories and removes them unless `dryRun`. */
export async function sweepTemporary(storage: Storage, dryRun: boolean): Promise<SweepResult> {
  const result: SweepResult = { objects: 0, bytes: 0 };
  const dirs: string[] = ["", DIRS.key, DIRS.index, DIRS.snapshot, DIRS.lock, DIRS.data];
  for (const entry of await entries(storage, DIRS.data)) {
    if (entry.type === "directory" && !entry.temporary) dirs.push(`${DIRS.data}/${entry.name}`);
  }
  for (const dir of dirs) {
    for (const entry of await entries(storage, dir)) {
      if (!entry.temporary || entry.type !== "file") continue;
      result.objects++;
      result.bytes += entry.size;
      if (dryRun) continue;
      const key = dir === "" ? entry.name : `${dir}/${entry.name}`;
      await storage.remove(key, { temporary: true }).catch((error: unknown) => {
        if (!isStorageError(error, "NOT_FOUND")) throw error;
      });
    }
  }
  return result;
}
