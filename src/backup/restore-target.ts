/**
 * Filesystem steps of a restore that must never follow a symlink found in the target: every
 * directory on the way is checked with lstat after mkdir, files are created with O_EXCL and
 * O_NOFOLLOW, and metadata is set through descriptors or l* calls.
 */
import { constants, type BigIntStats } from "node:fs";
import {
  lstat,
  lutimes,
  lchown,
  mkdir,
  open,
  readlink,
  unlink,
  type FileHandle,
} from "node:fs/promises";
import type { TreeNode } from "../repo/tree.ts";

/** How a restore treats something already at a path it restores. */
export type Overwrite = "always" | "if-changed" | "never";

const NOFOLLOW = constants.O_NOFOLLOW;
/** Flags of a new file: refuses to reuse anything already there, symlinks included. */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;
/** Flags for reopening a file this restore created. */
export const REOPEN_FLAGS = constants.O_WRONLY | NOFOLLOW;

/** Seconds since the epoch (with fraction) from a tree's nanosecond string. */
export function nsToSeconds(ns: string): number {
  const big = BigInt(ns);
  return Number(big / 1_000_000_000n) + Number(big % 1_000_000_000n) / 1e9;
}

/** The lstat of a path, or undefined when nothing is there. */
export async function lstatOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(path, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** An error's message with its errno code, for warnings. */
export function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

/** A directory ready for contents: made now, or found with its group and mode. */
export type DirOutcome = { made: true } | { made: false; gid: number; mode: number };

/**
 * Makes `dest` a real directory, or says why it cannot be used: a symlink is never followed nor
 * removed; another non-directory is replaced unless `overwrite` is never.
 */
export async function ensureDir(
  dest: string,
  overwrite: Overwrite,
): Promise<DirOutcome | { refuse: string }> {
  try {
    await mkdir(dest, { mode: 0o700 });
    return { made: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const st = await lstat(dest);
  if (st.isDirectory()) return { made: false, gid: st.gid, mode: st.mode };
  if (st.isSymbolicLink()) {
    const to = await readlink(dest).catch(() => "?");
    return {
      refuse: `it is a symbolic link (to ${to}) in the target; refusing to restore through it (remove it to restore here)`,
    };
  }
  if (overwrite === "never") return { refuse: "a file is in the way and overwrite is never" };
  await unlink(dest);
  await mkdir(dest, { mode: 0o700 });
  return { made: true };
}

/** What to do with one file, symlink or hardlink. */
export type Decision = "create" | "replace" | "skip" | { refuse: string };

/**
 * Decides about a non-directory `dest` and clears the way: what is there is unlinked (never
 * followed) when it is to be replaced. `same` tells whether the existing file already holds
 * what the snapshot has (called for if-changed only). With `defer`, the unlink is left to the
 * caller ("replace"): a file whose data is still to be downloaded keeps its old version until
 * its first authenticated bytes are ready, so a restore that fails midway does not delete files
 * it never got to.
 */
export async function clearFor(
  dest: string,
  overwrite: Overwrite,
  same: (stat: BigIntStats) => Promise<boolean>,
  defer = false,
): Promise<Decision> {
  const stat = await lstatOrUndefined(dest);
  if (stat === undefined) return "create";
  if (overwrite === "never") return "skip";
  if (stat.isDirectory()) return { refuse: "a directory is in the way" };
  if (overwrite === "if-changed" && (await same(stat))) return "skip";
  if (defer) return "replace";
  await unlink(dest);
  return "create";
}

/** Removes what is at `dest` (never following it); absent is fine. */
export async function unlinkIfThere(dest: string): Promise<void> {
  await unlink(dest).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  });
}

/**
 * The quick check: a regular file of the same size and the same mtime within 1 µs (utimes takes
 * seconds as a double, which keeps about a quarter of a microsecond).
 */
export function quickSame(stat: BigIntStats, node: TreeNode, size: number): boolean {
  if (!stat.isFile() || stat.size !== BigInt(size)) return false;
  const diff = stat.mtimeNs - BigInt(node.mtime);
  return diff < 1000n && diff > -1000n;
}

/**
 * True when the file at `dest` holds exactly the given chunks: each piece hashes to its blob id.
 * Opened with O_NOFOLLOW, so a symlink swapped in reads as different.
 */
export async function sameChunks(
  dest: string,
  chunks: readonly { id: string; length: number }[],
  hash: (data: Uint8Array) => Buffer,
): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(dest, constants.O_RDONLY | NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const longest = chunks.reduce((max, c) => Math.max(max, c.length), 0);
    const buffer = Buffer.allocUnsafe(longest);
    let position = 0;
    for (const chunk of chunks) {
      const { bytesRead } = await handle.read(buffer, 0, chunk.length, position);
      if (bytesRead !== chunk.length) return false;
      if (hash(buffer.subarray(0, chunk.length)).toString("hex") !== chunk.id) return false;
      position += chunk.length;
    }
    const { bytesRead } = await handle.read(buffer, 0, 1, position);
    return bytesRead === 0;
  } finally {
    await handle.close();
  }
}

/**
 * Applies owner (when `chown`), mode and mtime through an open descriptor, each attempted even
 * when another fails; throws the first failure. Owner comes first: chown clears set-id bits
 * that chmod then sets.
 */
export async function applyHandleMeta(
  handle: FileHandle,
  node: TreeNode,
  chown: boolean,
): Promise<void> {
  const failures: unknown[] = [];
  if (chown) await handle.chown(node.uid, node.gid).catch((error: unknown) => failures.push(error));
  const mtime = nsToSeconds(node.mtime);
  for (const outcome of await Promise.allSettled([
    handle.chmod(node.mode),
    handle.utimes(mtime, mtime),
  ])) {
    if (outcome.status === "rejected") failures.push(outcome.reason);
  }
  if (failures.length > 0) throw failures[0];
}

/** Applies a directory's metadata, opening it with O_NOFOLLOW so a swapped-in link is refused. */
export async function applyDirMeta(dest: string, node: TreeNode, owner: boolean): Promise<void> {
  const handle = await open(dest, constants.O_RDONLY | constants.O_DIRECTORY | NOFOLLOW);
  try {
    await applyHandleMeta(handle, node, owner);
  } finally {
    await handle.close();
  }
}

/** Applies a symlink's owner and mtime to the link itself (its mode means nothing on Linux). */
export async function applySymlinkMeta(
  dest: string,
  node: TreeNode,
  owner: boolean,
): Promise<void> {
  if (owner) await lchown(dest, node.uid, node.gid);
  const mtime = nsToSeconds(node.mtime);
  await lutimes(dest, mtime, mtime);
}
