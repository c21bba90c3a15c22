/**
 * `ferry restore`: plan (walk the snapshot, filter, group hardlinks) → directories → files,
 * symlinks and specials cleared or skipped per `overwrite` → contents by pack (restore-data.ts)
 * → hardlinks → directory metadata, deepest first.
 */
import { link, mkdir, open, readlink, symlink, type FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import { constants } from "node:fs";
import { RepoError } from "../repo/errors.ts";
import type { BlobLocation } from "../repo/index-file.ts";
import { mapLimit } from "../repo/io.ts";
import type { Repository } from "../repo/repository.ts";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { writeData, type FileJob } from "./restore-data.ts";
import { planRestore, type PlanEntry } from "./restore-plan.ts";
import {
  applyDirMeta,
  applyHandleMeta,
  applySymlinkMeta,
  clearFor,
  CREATE_FLAGS,
  ensureDir,
  lstatOrUndefined,
  quickSame,
  reason,
  sameChunks,
  type Overwrite,
} from "./restore-target.ts";

/** Progress of a restore: files and bytes done (written or found identical) of the totals. */
export interface RestoreProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
  current?: string;
}

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
}

export interface RestoreResult {
  /** Regular files written (hardlinks not counted). */
  files: number;
  /** Directories created or updated. */
  dirs: number;
  symlinks: number;
  /** Hardlinks made to a file restored earlier in the same run. */
  hardlinks: number;
  /** Bytes written. */
  bytes: number;
  /** Existing files, symlinks and hardlinks left as they were (`overwrite`). */
  skipped: number;
  /** Everything not restored or not fully (metadata), one message each. */
  warnings: string[];
}

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

/** Minimum time between two progress reports. */
const PROGRESS_INTERVAL_MS = 100;
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
  const overwrite = options.overwrite ?? "if-changed";
  const owner = options.owner ?? process.getuid?.() === 0;
  const { signal } = options;
  const target = resolve(options.target);
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
  const damaged: string[] = [];

  await mkdir(target, { recursive: true });
  await repo.loadIndex();
  const plan = await planRestore(repo, snapshot.snapshot, options.path ?? "/", {
    include: options.include,
    exclude: options.exclude,
    signal,
  });
  const progress = new Meter(plan.totalFiles, plan.totalBytes, options.onProgress);
  const dest = (entry: PlanEntry): string => join(target, entry.rel);
  /** Directories that could not be made: nothing goes below them. */
  const blocked = new Set<PlanEntry>();
  const isBlocked = (entry: PlanEntry): boolean =>
    entry.parent !== undefined && blocked.has(entry.parent);
  /** File entries present in the target after this run, for hardlinks to point at. */
  const present = new Set<PlanEntry>();

  const dirs: PlanEntry[] = [];
  for (const entry of plan.entries) {
    if (entry.kind !== "dir") continue;
    signal?.throwIfAborted();
    if (isBlocked(entry)) {
      blocked.add(entry);
      continue;
    }
    const why = await ensureDir(dest(entry), overwrite).catch(reason);
    if (why !== undefined) {
      blocked.add(entry);
      warn(`${entry.path}: not restored to ${dest(entry)}: ${why}.`);
      continue;
    }
    dirs.push(entry);
    result.dirs++;
  }

  const prepareFile = async (entry: PlanEntry): Promise<FileJob | undefined> => {
    const { node } = entry;
    const path = dest(entry);
    const chunks: { id: string; location: BlobLocation }[] = [];
    try {
      for (const id of node.content ?? []) chunks.push({ id, location: repo.locate("data", id) });
    } catch (error) {
      damaged.push(entry.path);
      warn(`${entry.path}: not restored: ${reason(error)}`);
      return undefined;
    }
    const size = chunks.reduce((sum, c) => sum + c.location.rawLength, 0);
    const found = { byHash: false };
    const decision = await clearFor(path, overwrite, async (stat) => {
      if (quickSame(stat, node, size)) return true;
      if (!stat.isFile() || stat.size !== BigInt(size)) return false;
      const pieces = chunks.map((c) => ({ id: c.id, length: c.location.rawLength }));
      found.byHash = await sameChunks(path, pieces, (data) => repo.blobId(data));
      return found.byHash;
    });
    if (typeof decision === "object") {
      warn(`${entry.path}: not restored to ${path}: ${decision.refuse}.`);
      return undefined;
    }
    if (decision === "skip") {
      present.add(entry);
      result.skipped++;
      progress.add(1, size, entry.path);
      // Same contents, other mtime: the metadata is restored, the contents left alone.
      if (found.byHash)
        await withHandle(path, constants.O_RDONLY, (h) => applyHandleMeta(h, node, owner));
      return undefined;
    }
    if (chunks.length > 0) return { path: entry.path, dest: path, node, size, chunks };
    await withHandle(path, CREATE_FLAGS, (h) => applyHandleMeta(h, node, owner), 0o600);
    present.add(entry);
    result.files++;
    progress.add(1, 0, entry.path);
    return undefined;
  };

  const prepareSymlink = async (entry: PlanEntry): Promise<void> => {
    const path = dest(entry);
    const to = entry.node.target;
    if (to === undefined) {
      warn(`${entry.path}: not restored: the symlink has no target recorded.`);
      return;
    }
    const decision = await clearFor(
      path,
      overwrite,
      async (stat) => stat.isSymbolicLink() && (await readlink(path)) === to,
    );
    if (typeof decision === "object") {
      warn(`${entry.path}: not restored to ${path}: ${decision.refuse}.`);
    } else if (decision === "skip") {
      result.skipped++;
    } else {
      await symlink(to, path);
      result.symlinks++;
      await applySymlinkMeta(path, entry.node, owner).catch((error: unknown) => {
        warn(`${entry.path}: restored without its owner or mtime: ${reason(error)}`);
      });
    }
  };

  const prepared = await mapLimit(plan.entries, PREPARE_CONCURRENCY, async (entry) => {
    if (entry.kind === "dir" || entry.kind === "hardlink" || isBlocked(entry)) return undefined;
    signal?.throwIfAborted();
    try {
      if (entry.kind === "file") return await prepareFile(entry);
      if (entry.kind === "symlink") await prepareSymlink(entry);
      else warn(`${entry.path}: not restored: ferry does not create ${entry.node.type} nodes.`);
    } catch (error) {
      warn(`${entry.path}: not restored to ${dest(entry)}: ${reason(error)}`);
    }
    return undefined;
  });

  const jobs = prepared.filter((job) => job !== undefined);
  const entryOf = new Map(
    plan.entries.filter((e) => e.kind === "file").map((e) => [e.path, e] as const),
  );
  await writeData(repo, jobs, {
    concurrency: repo.storage.capabilities.maxConnections,
    owner,
    ...(signal === undefined ? {} : { signal }),
    events: {
      written: (job, bytes) => {
        result.bytes += bytes;
        progress.add(0, bytes, job.path);
      },
      done: (job, metaError) => {
        const entry = entryOf.get(job.path);
        if (entry !== undefined) present.add(entry);
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

  for (const entry of plan.entries) {
    if (entry.kind !== "hardlink" || isBlocked(entry) || entry.linkTo === undefined) continue;
    signal?.throwIfAborted();
    const primary = entry.linkTo;
    if (!present.has(primary)) {
      warn(`${entry.path}: not restored: it is a hardlink to ${primary.path}, which was not.`);
      continue;
    }
    const path = dest(entry);
    try {
      const decision = await clearFor(path, overwrite, async (stat) => {
        const first = await lstatOrUndefined(dest(primary));
        return first !== undefined && first.ino === stat.ino && first.dev === stat.dev;
      });
      if (typeof decision === "object") {
        warn(`${entry.path}: not restored to ${path}: ${decision.refuse}.`);
      } else if (decision === "skip") {
        result.skipped++;
      } else {
        await link(dest(primary), path);
        result.hardlinks++;
      }
    } catch (error) {
      warn(`${entry.path}: not restored to ${path}: ${reason(error)}`);
    }
  }

  // Deepest first: a directory's mtime and mode are set after everything inside it is written.
  for (const entry of dirs.reverse()) {
    await applyDirMeta(dest(entry), entry.node, owner).catch((error: unknown) => {
      warn(`${entry.path}: restored without all its metadata: ${reason(error)}`);
    });
  }
  progress.report();
  if (damaged.length > 0) throw new RestoreDamagedError([...new Set(damaged)].sort(), result);
  return result;
}

async function withHandle(
  path: string,
  flags: number,
  fn: (handle: FileHandle) => Promise<void>,
  mode?: number,
): Promise<void> {
  const handle = await open(path, flags | constants.O_NOFOLLOW, mode);
  try {
    await fn(handle);
  } finally {
    await handle.close();
  }
}

/** Progress counters with a rate limit on reports. */
class Meter {
  readonly #totalFiles: number;
  readonly #totalBytes: number;
  readonly #report: ((p: RestoreProgress) => void) | undefined;
  #files = 0;
  #bytes = 0;
  #current: string | undefined;
  #last = 0;

  constructor(totalFiles: number, totalBytes: number, report?: (p: RestoreProgress) => void) {
    this.#totalFiles = totalFiles;
    this.#totalBytes = totalBytes;
    this.#report = report;
  }

  add(files: number, bytes: number, current: string): void {
    this.#files += files;
    this.#bytes += bytes;
    this.#current = current;
    if (this.#report !== undefined && Date.now() - this.#last >= PROGRESS_INTERVAL_MS) {
      this.report();
    }
  }

  /** Reports now. */
  report(): void {
    if (this.#report === undefined) return;
    this.#last = Date.now();
    const p: RestoreProgress = {
      files: this.#files,
      bytes: this.#bytes,
      totalFiles: this.#totalFiles,
      totalBytes: this.#totalBytes,
    };
    if (this.#current !== undefined) p.current = this.#current;
    this.#report(p);
  }
}
