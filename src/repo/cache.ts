/**
 * The local cache of one repository: index and snapshot files and tree packs, stored exactly as
 * on the destination (still sealed, so the cache holds no plaintext), verified again on every use.
 * `FERRY_CACHE` moves it; by default it lives under the user's cache directory.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** The cache's root directory for this user. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_CACHE !== undefined && env.FERRY_CACHE !== "") return env.FERRY_CACHE;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache"), "ferry");
}

/** What the cache keeps, each in its own folder. */
export type CacheKind = "index" | "snapshots" | "packs";

const TAG =
  "Signature: 8a477f597d28d172789f06886806bc55\n# ferry repository cache; safe to delete.\n";

/** One repository's cache. Failures to write are ignored: the cache is an optimisation. */
export class RepoCache {
  readonly dir: string;

  constructor(root: string, repoId: string) {
    this.dir = join(root, repoId);
  }

  /** The cached bytes, or undefined. */
  async get(kind: CacheKind, name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.dir, kind, name));
    } catch {
      return undefined;
    }
  }

  /** Stores bytes through a temporary name, so a crash never leaves a partial entry. */
  async put(kind: CacheKind, name: string, bytes: Uint8Array): Promise<void> {
    try {
      const dir = join(this.dir, kind);
      await mkdir(dir, { recursive: true });
      await writeFile(join(this.dir, "..", "CACHEDIR.TAG"), TAG).catch(() => undefined);
      const temp = join(dir, `.${name}.${randomBytes(4).toString("hex")}.tmp`);
      await writeFile(temp, bytes);
      await rename(temp, join(dir, name));
    } catch {
      // A full or read-only cache directory slows ferry down; it must not fail a backup.
    }
  }

  /** Removes one entry (a damaged one, or one gone from the destination). */
  async drop(kind: CacheKind, name: string): Promise<void> {
    await rm(join(this.dir, kind, name), { force: true }).catch(() => undefined);
  }

  /** Removes entries not in `keep` (objects removed from the destination by prune or forget). */
  async retain(kind: CacheKind, keep: ReadonlySet<string>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(this.dir, kind));
    } catch {
      return;
    }
    await Promise.all(names.filter((n) => !keep.has(n)).map((n) => this.drop(kind, n)));
  }
}
