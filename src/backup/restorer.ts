/**
 * `ferry restore`: plan (walk the snapshot, filter, group hardlinks) → directories → files,
 * symlinks and specials cleared or skipped per `overwrite` → contents by pack (restore-data.ts)
 * → hardlinks → directory metadata, deepest first.
 */
import { resolve } from "node:path";
import { RepoError } from "../repo/errors.ts";
import { mapLimit } from "../repo/io.ts";
import { RepoLock, type LeaseOptions } from "../repo/lock.ts";
import type { Repository } from "../repo/repository.ts";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { blobOpener } from "./blob-openers.ts";
import { writeData } from "./restore-data.ts";
import { EntryWriter, type RestoreCounts } from "./restore-entries.ts";
import { planRestore } from "./restore-plan.ts";
import { Meter, type RestoreProgress } from "./restore-progress.ts";
import { reason, type Overwrite } from "./restore-target.ts";

export type { RestoreProgress };

export interface RestoreOptions {
  /** Directory to restore into; created if missing. */
  target: string;
  /**
   * Subtree of the snapshot to restore, absolute [/]. The contents of a directory go straight
   * into `target` (`/srv/www/index.html` → `target/index.html`); a file goes to
   * `target/<its name>`.
   */
  path?: string;
  /** Globs (excludes.ts rules) on snapshot paths; when given, only matches and what is below them. */
  include?: string[];
  /** Globs on snapshot paths; a match is left out with everything below it. */
  exclude?: string[];
  /**
   * What to do with a file already in the target [if-changed]: always replace it; replace it
   * unless it already holds the snapshot's contents (same size and mtime, or else every chunk
   * hashes to the snapshot's ids); never touch it. A symlink in place of a directory is refused
   * in every mode. Nothing in the target that the snapshot lacks is removed.
   */
  overwrite?: Overwrite;
  /** Restore numeric uid/gid [true when running as root]. */
  owner?: boolean;
  /** Called at most about ten times a second, and once at the end. */
  onProgress?: (p: RestoreProgress) => void;
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
  /**
   * Worker threads that authenticate, decrypt and decompress blobs; 0 keeps that work on the
   * main thread [one per core beside the main thread's, at most four, for restores of 64 MiB
   * or more].
   */
  workers?: number;
  /** Lease timing of the shared lock (tests). */
  lease?: LeaseOptions;
}

/** What a restore did: see {@link RestoreCounts}. */
export type RestoreResult = RestoreCounts;

/**
 * The restore finished but some files could not be restored because the repository is damaged
 * (a blob failed authentication, a pack is missing or short). Everything else was restored;
 * `result` has the counts and `files` the snapshot paths of the files left out.
 */
export class RestoreDamagedError extends RepoError {
  readonly files: string[];
  readonly result: RestoreResult;

  constructor(files: string[], result: RestoreResult) {
    const shown = files.slice(0, 10).join(", ");
    const more = files.length > 10 ? ` and ${files.length - 10} more` : "";
    super(
      "DAMAGED",
      `${files.length} file${files.length === 1 ? "" : "s"} could not be restored because the repository is damaged: ${shown}${more}. Everything else was restored; run \`ferry check\`.`,
    );
    this.files = files;
    this.result = result;
  }
}

/** Files prepared (lstat, compare, create) at once. */
const PREPARE_CONCURRENCY = 16;

/**
 * Restores a snapshot (or part of it) into a directory. Resolves with the counts and warnings;
 * rejects with {@link RestoreDamagedError} when files were left out because the repository is
 * damaged (after restoring everything else), with the signal's reason when aborted.
 */
export async function restore(
  repo: Repository,
  snapshot: SnapshotEntry,
  options: RestoreOptions,
): Promise<RestoreResult> {
  // A shared lock keeps prune (exclusive) from repacking the packs we read; a read-only
  // destination cannot be pruned from here and takes none.
  const lock = repo.storage.capabilities.readOnly
    ? undefined
    : await RepoLock.acquire(repo, false, "restore", options.lease);
  try {
    return await restoreUnlocked(repo, snapshot, options);
  } finally {
    await lock?.release();
  }
}

async function restoreUnlocked(
  repo: Repository,
  snapshot: SnapshotEntry,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const { signal } = options;
  const result: RestoreResult = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    bytes: 0,
    skipped: 0,
    warnings: [],
  };
  const warn = (message: string): void => {
    result.warnings.push(message);
    options.onWarning?.(message);
  };
  await repo.loadIndex();
  const plan = await planRestore(repo, snapshot.snapshot, options.path ?? "/", {
    include: options.include,
    exclude: options.exclude,
    signal,
  });
  const progress = new Meter(plan.totalFiles, plan.totalBytes, options.onProgress);
  const damaged: string[] = [];
  const writer = await EntryWriter.open({
    repo,
    target: resolve(options.target),
    overwrite: options.overwrite ?? "if-changed",
    owner: options.owner ?? process.getuid?.() === 0,
    result,
    progress,
    warn,
    damaged,
  });

  for (const entry of plan.entries) {
    if (entry.kind !== "dir") continue;
    signal?.throwIfAborted();
    await writer.dir(entry);
  }

  const prepared = await mapLimit(plan.entries, PREPARE_CONCURRENCY, async (entry) => {
    if (entry.kind === "dir" || entry.kind === "hardlink" || writer.blocked(entry))
      return undefined;
    signal?.throwIfAborted();
    try {
      if (entry.kind === "file") return await writer.file(entry);
      if (entry.kind === "symlink") await writer.symlink(entry);
      else warn(`${entry.path}: not restored: ferry does not create ${entry.node.type} nodes.`);
    } catch (error) {
      warn(`${entry.path}: not restored to ${writer.dest(entry)}: ${reason(error)}`);
    }
    return undefined;
  });

  const jobs = prepared.filter((job) => job !== undefined);
  const entryOf = new Map(
    plan.entries.filter((e) => e.kind === "file").map((e) => [e.path, e] as const),
  );
  const bytes = jobs.reduce((sum, job) => sum + job.size, 0);
  const opener = blobOpener(
    repo,
    bytes,
    options.workers === undefined ? {} : { workers: options.workers, threshold: 0 },
  );
  try {
    await writeData(repo, jobs, {
      concurrency: repo.storage.capabilities.maxConnections,
      opener,
      signal,
      events: {
        written: (job, bytes) => {
          result.bytes += bytes;
          progress.add(0, bytes, job.path);
        },
        done: (job, metaError) => {
          const entry = entryOf.get(job.path);
          if (entry !== undefined) writer.present(entry);
          result.files++;
          progress.add(1, 0, job.path);
          if (metaError !== undefined) {
            warn(`${job.path}: restored without all its metadata: ${reason(metaError)}`);
          }
        },
        failed: (job, message, isDamage) => {
          if (isDamage) damaged.push(job.path);
          warn(message);
        },
      },
    });
  } finally {
    await opener.close();
  }

  for (const entry of plan.entries) {
    if (entry.kind !== "hardlink" || writer.blocked(entry)) continue;
    signal?.throwIfAborted();
    await writer.hardlink(entry);
  }
  await writer.finishDirs();
  progress.report();
  if (damaged.length > 0) throw new RestoreDamagedError([...new Set(damaged)].sort(), result);
  return result;
}
