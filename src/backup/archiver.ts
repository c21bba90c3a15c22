/**
 * `ferry backup`: walk → read → chunk → hash → compress → seal (worker threads) → pack → upload.
 * This file holds the run around the walk (walk.ts): the lock, the parent snapshot, the packer
 * and the snapshot, written last, after every pack and index it names.
 */
import { hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { RepoError } from "../repo/errors.ts";
import { RepoLock, type LeaseOptions } from "../repo/lock.ts";
import { Packer } from "../repo/packer.ts";
import type { Repository } from "../repo/repository.ts";
import type { Snapshot, SnapshotEntry } from "../repo/snapshot.ts";
import { ChunkPool, defaultWorkers } from "./chunk-pool.ts";
import type { ExcludeOptions } from "./excludes.ts";
import { BackupRun } from "./walk.ts";

export const PROGRAM = "ferry 0.1.0";

export interface BackupOptions {
  /** Paths to back up; made absolute. Ignored with `stdin`. */
  paths: string[];
  tags?: string[];
  /** Host name recorded [os.hostname()]. */
  host?: string;
  exclude?: ExcludeOptions;
  /** Parent snapshot id; undefined picks the latest with the same host and paths; null: none. */
  parent?: string | null;
  /** Back up a stream (a database dump) as one file named `filename`. */
  stdin?: { stream: Readable; filename: string };
  /** Worker threads [one per core]. */
  workers?: number;
  onProgress?: (progress: BackupProgress) => void;
  onWarning?: (warning: BackupWarning) => void;
  lease?: LeaseOptions;
  now?: () => Date;
}

/** Counters while a backup runs. Totals come from a concurrent scan and may lag. */
export interface BackupProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
  scanDone: boolean;
  current: string | undefined;
  uploadedBytes: number;
}

/** Something the user should know; the backup went on. */
export interface BackupWarning {
  path: string;
  message: string;
  /** True when the item is missing from the snapshot (makes it incomplete). */
  skipped: boolean;
}

export interface BackupResult {
  id: string;
  snapshot: Snapshot;
  warnings: BackupWarning[];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}

/** Runs one backup; see {@link BackupOptions}. */
export async function backup(repo: Repository, options: BackupOptions): Promise<BackupResult> {
  const now = options.now ?? (() => new Date());
  const start = now();
  const paths =
    options.stdin === undefined
      ? [...new Set(options.paths.map((p) => resolve(p)))].sort()
      : [`/${options.stdin.filename}`];
  if (paths.length === 0)
    throw new RepoError("INVALID", "Nothing to back up: give at least one path, or --stdin.");
  const host = options.host ?? hostname();
  const lock = await RepoLock.acquire(repo, false, "backup", {
    ...options.lease,
    onMessage: (m) => options.onWarning?.({ path: "", message: m, skipped: false }),
  });
  const packer = new Packer(repo);
  const pool = new ChunkPool(repo, packer, options.workers ?? defaultWorkers());
  try {
    await repo.loadIndex();
    const parent = await findParent(repo, options.parent, host, paths);
    const run = new BackupRun(repo, packer, pool, options);
    packer.onPackStored = (_pack, bytes) => {
      run.progress.uploadedBytes += bytes;
    };
    const rootNode =
      options.stdin === undefined
        ? await run.archiveRoot(paths, parent?.snapshot.tree)
        : await run.archiveStdin(options.stdin.stream, options.stdin.filename, start);
    await packer.finish();
    lock.check();
    const snapshot: Snapshot = {
      version: 1,
      time: start.toISOString(),
      host,
      user: currentUser(),
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      paths,
      tags: [...new Set(options.tags ?? [])].sort(),
      tree: rootNode,
      program: PROGRAM,
      summary: run.summary(start, now(), packer),
    };
    if (parent !== undefined) snapshot.parent = parent.id;
    if (options.exclude?.patterns !== undefined && options.exclude.patterns.length > 0)
      snapshot.excludes = options.exclude.patterns;
    if (run.warnings.some((w) => w.skipped)) snapshot.incomplete = true;
    const id = await repo.saveSnapshot(snapshot);
    return { id, snapshot, warnings: run.warnings };
  } catch (error) {
    await packer.abandon();
    throw error;
  } finally {
    await pool.close();
    await lock.release();
  }
}

async function findParent(
  repo: Repository,
  parent: string | null | undefined,
  host: string,
  paths: string[],
): Promise<SnapshotEntry | undefined> {
  if (parent === null) return undefined;
  const snapshots = await repo.listSnapshots();
  if (parent !== undefined) return repo.resolveSnapshot(parent, snapshots);
  return snapshots
    .filter((s) => s.snapshot.host === host && sameSet(s.snapshot.paths, paths))
    .at(-1);
}
