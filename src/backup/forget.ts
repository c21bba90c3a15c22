/**
 * `ferry forget`: applies a retention policy (retention.ts) to the repository's snapshots and
 * removes the snapshots it does not keep. Only snapshot files are removed; the data they used
 * stays until `prune` (`ferry forget --prune` runs both).
 */
import { mapLimit } from "../repo/io.ts";
import { RepoLock, type LeaseOptions } from "../repo/lock.ts";
import type { Repository } from "../repo/repository.ts";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import {
  applyPolicy,
  validatePolicy,
  type GroupDecision,
  type RetentionOptions,
  type RetentionPolicy,
  type Snapshot as RetentionSnapshot,
} from "./retention.ts";

/** A snapshot as retention sees it, with the stored snapshot for display. */
export interface ForgetCandidate extends RetentionSnapshot {
  entry: SnapshotEntry;
}

/** Options of {@link forget}: how to group and bucket, plus the run's own. */
export interface ForgetOptions extends RetentionOptions {
  /** Decide and report, remove nothing. Takes a shared lock instead of an exclusive one. */
  dryRun?: boolean;
  /** Lease timing of the lock (tests). */
  lease?: LeaseOptions;
  /** Called after each snapshot removed. */
  onRemoved?: (id: string, done: number, total: number) => void;
  /** Decide only over snapshots of these hosts; the others are neither kept nor removed. */
  hosts?: readonly string[];
}

/** The decisions, per group, and the ids removed (none in a dry run). */
export interface ForgetReport {
  dryRun: boolean;
  groups: GroupDecision<ForgetCandidate>[];
  /** Ids of the snapshots removed, oldest first; what would be removed in a dry run. */
  removed: string[];
}

/**
 * Applies `policy` and removes the snapshots it does not keep, under an exclusive lock (as
 * restic does: a snapshot must not vanish under a running check or restore). Throws
 * RetentionError for an invalid policy before touching the repository, LOCKED while another
 * lock is held.
 */
export async function forget(
  repo: Repository,
  policy: RetentionPolicy,
  options: ForgetOptions = {},
): Promise<ForgetReport> {
  validatePolicy(policy);
  const dryRun = options.dryRun === true;
  const lock =
    dryRun && repo.storage.capabilities.readOnly
      ? undefined
      : await RepoLock.acquire(repo, !dryRun, "forget", options.lease);
  try {
    const hosts = options.hosts;
    const snapshots = (await repo.listSnapshots()).filter(
      (entry) => hosts === undefined || hosts.includes(entry.snapshot.host),
    );
    const candidates: ForgetCandidate[] = snapshots.map((entry) => ({
      id: entry.id,
      time: new Date(entry.snapshot.time),
      host: entry.snapshot.host,
      paths: entry.snapshot.paths,
      tags: entry.snapshot.tags,
      entry,
    }));
    const groups = applyPolicy(candidates, policy, {
      groupBy: options.groupBy,
      now: options.now,
      timeZone: options.timeZone,
    });
    const order = new Map(snapshots.map((s, i) => [s.id, i]));
    const removed = groups
      .flatMap((group) => group.remove.map((s) => s.id))
      .sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    if (!dryRun && lock !== undefined && removed.length > 0) {
      lock.check();
      let done = 0;
      await mapLimit(removed, repo.storage.capabilities.maxConnections, async (id) => {
        await repo.removeSnapshot(id);
        options.onRemoved?.(id, ++done, removed.length);
      });
    }
    return { dryRun, groups, removed };
  } finally {
    await lock?.release();
  }
}
