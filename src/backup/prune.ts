/**
 * `ferry prune`: removes data no snapshot needs. Runs under an EXCLUSIVE lock, so no backup runs
 * meanwhile: a running backup may have uploaded packs whose snapshot is not written yet, and
 * those would look unused. The lease is checked again before each phase that writes or removes.
 *
 * Order of the steps, and why a crash (or a failure) at any point loses nothing:
 *
 * 1. Repack: used blobs of mostly-unused packs are copied, sealed bytes unchanged, into new packs
 *    through a Packer, which writes an index entry for each new pack as it goes.
 *    Crash here: the old index still lists every old pack, which still holds every blob. The new
 *    packs are extra copies, either listed by the Packer's index files (duplicates, which the
 *    next prune resolves) or not listed at all (unreferenced, which the next prune removes).
 * 2. Write ONE index listing every kept pack and every new pack, superseding every index file
 *    present, the Packer's included.
 *    Crash before it is stored: as in 1 (uploads are atomic: the file is there whole or not at
 *    all). Once it is stored, readers ignore every file it supersedes, and everything used is in a
 *    pack it lists: kept packs were not touched and moved blobs are in the new packs.
 * 3. Remove the superseded index files.
 *    Crash here: the files left are superseded by the new index, so they are ignored; the next
 *    prune supersedes them again and removes them.
 * 4. Remove obsolete packs: those whose blobs are all unused, those repacked, and unreferenced
 *    ones.
 *    Crash here: no live index lists any of these packs (the new index left them out, the old
 *    indexes are superseded or gone), so the ones left over are unreferenced and the next prune
 *    removes them.
 */
import { RepoError } from "../repo/errors.ts";
import type { PackContents } from "../repo/index-file.ts";
import { listNames, mapLimit } from "../repo/io.ts";
import { DIRS, isObjectName, packKey } from "../repo/layout.ts";
import { sweepTemporary } from "./temp-sweep.ts";
import { RepoLock, type LeaseOptions } from "../repo/lock.ts";
import type { BlobType } from "../repo/pack.ts";
import { Packer } from "../repo/packer.ts";
import { ignoreNotFound, type Repository } from "../repo/repository.ts";
import { BlobReader, readSealedBlobs } from "./blob-reader.ts";
import { readIndexState, type IndexState } from "./index-state.ts";
import { listStoredPacks } from "./pack-listing.ts";
import { planPrune, type PrunePlan } from "./prune-plan.ts";
import { walkTrees } from "./tree-walk.ts";

/** Default share of a pack's blob bytes allowed to be unused before the pack is repacked. */
export const DEFAULT_MAX_UNUSED = 0.25;

/** Which step a prune is in, with a count where the step has one. */
export interface PruneProgress {
  phase:
    | "index"
    | "snapshots"
    | "trees"
    | "repack"
    | "write-index"
    | "remove-index"
    | "remove-packs";
  done: number;
  /** 0 where the total is not known in advance. */
  total: number;
}

/** Options of {@link prune}. */
export interface PruneOptions {
  /** Decide and report, change nothing. Takes a shared lock instead of an exclusive one. */
  dryRun?: boolean;
  /** Fraction (0-1) of a pack's blob bytes allowed unused before it is repacked [0.25]. */
  maxUnused?: number;
  onProgress?: (progress: PruneProgress) => void;
  signal?: AbortSignal;
  /** Lease timing of the lock (tests). */
  lease?: LeaseOptions;
}

/** Packs and bytes. */
export interface PackCount {
  packs: number;
  bytes: number;
}

/** What prune did, or in a dry run would do. Bytes are stored bytes. */
export interface PruneReport {
  dryRun: boolean;
  /** Distinct blobs (data and tree) the snapshots use. */
  usedBlobs: number;
  /** Packs left as they are, and how many of their blob bytes nothing needs. */
  kept: PackCount & { unusedBytes: number };
  /** Packs removed because nothing in them is needed. */
  removed: PackCount;
  /** Packs rewritten: their needed blobs moved to new packs, then the packs removed. */
  repacked: PackCount & { blobsMoved: number; bytesMoved: number };
  /** New packs written by the repack (none in a dry run). */
  written: PackCount;
  /** Packs in `data/` no index lists (left by interrupted backups), removed. */
  unreferenced: PackCount;
  /** Packs the index lists that are not stored; dropped from the index (none was needed). */
  missing: number;
  /** Index files there were before prune that it replaced, and index files it wrote (0 or 1). */
  indexFiles: { removed: number; written: number };
  /** Stored bytes freed: removed, repacked and unreferenced packs less what was written. */
  bytesFreed: number;
  /** Temporary objects of uploads that never finished (killed backups), removed. */
  temporary: { objects: number; bytes: number };
}

/** Stops prune before it changes anything, saying why and what to run. */
function refuse(reason: string, cause?: unknown): RepoError {
  return new RepoError(
    "DAMAGED",
    `${reason} Prune stopped without changing anything: it cannot tell what is still needed. Run \`ferry check\`.`,
    cause === undefined ? undefined : { cause },
  );
}

function validateMaxUnused(value: number): void {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new RepoError(
      "INVALID",
      `The unused share allowed in a pack must be a fraction from 0 to 1; got ${String(value)}.`,
    );
  }
}

/**
 * Removes packs nothing needs, repacks mostly-unused ones and consolidates the index, in the
 * crash-safe order the module comment explains. Refuses (DAMAGED, changing nothing) when an
 * index file, snapshot or tree cannot be read or a used blob is in no stored pack; LOCKED while
 * any other lock is held. The repository's in-memory index is not updated (it cannot forget
 * packs): open the repository again before reading through it.
 */
export async function prune(repo: Repository, options: PruneOptions = {}): Promise<PruneReport> {
  const dryRun = options.dryRun === true;
  const maxUnused = options.maxUnused ?? DEFAULT_MAX_UNUSED;
  validateMaxUnused(maxUnused);
  const readOnly = repo.storage.capabilities.readOnly;
  if (readOnly && !dryRun) {
    throw new RepoError(
      "INVALID",
      "The destination is read-only and prune removes data; use a dry run, or remove readOnly from its settings.",
    );
  }
  const lock = readOnly ? undefined : await RepoLock.acquire(repo, !dryRun, "prune", options.lease);
  try {
    const decision = await decide(repo, maxUnused, options);
    const report = summarize(decision);
    // Under the exclusive lock no upload is running, so every temporary object is a leftover.
    report.temporary = await sweepTemporary(repo.storage, dryRun || lock === undefined);
    if (dryRun || lock === undefined) return report;
    await execute(repo, lock, decision, report, options);
    return report;
  } finally {
    await lock?.release();
  }
}

/** What prune found and decided. */
interface Decision {
  state: IndexState;
  /** Stored packs and their sizes. */
  stored: Map<string, number>;
  plan: PrunePlan;
  used: Map<string, BlobType>;
}

async function decide(
  repo: Repository,
  maxUnused: number,
  options: PruneOptions,
): Promise<Decision> {
  const { signal } = options;
  const progress = (phase: PruneProgress["phase"], done: number, total: number): void =>
    options.onProgress?.({ phase, done, total });
  // Snapshots before the index: under a dry run's shared lock a backup may finish meanwhile,
  // and its snapshot is written after its index.
  progress("snapshots", 0, 0);
  const snapshots = await repo.listSnapshots().catch((error: unknown) => {
    throw error instanceof RepoError ? refuse(error.message, error) : error;
  });
  progress("snapshots", snapshots.length, snapshots.length);
  signal?.throwIfAborted();

  const state = await readIndexState(repo, (done, total) => {
    progress("index", done, total);
  });
  const failure = state.failures[0];
  if (failure !== undefined) throw refuse(failure.message);
  const stored = await listStoredPacks(repo);
  signal?.throwIfAborted();

  const reader = new BlobReader(repo, (id) => {
    const list = state.locations.get(id);
    return list?.find((at) => stored.has(at.pack)) ?? list?.[0];
  });
  const walk = await walkTrees(
    snapshots.map((s) => s.snapshot.tree),
    (id) => reader.loadTree(id),
    {
      concurrency: repo.storage.capabilities.maxConnections,
      signal,
      onTree: (trees) => {
        progress("trees", trees, 0);
      },
    },
  );
  const [broken] = walk.failures;
  if (broken !== undefined) {
    throw refuse(`Tree ${broken[0].slice(0, 12)} cannot be read: ${broken[1].message}`, broken[1]);
  }
  const plan = planPrune(state.packs, stored, walk.blobs, maxUnused);
  if (plan.lost.length > 0) {
    throw refuse(
      `${plan.lost.length} blob${plan.lost.length === 1 ? "" : "s"} the snapshots use ${plan.lost.length === 1 ? "is" : "are"} in no stored pack (first: ${(plan.lost[0] ?? "").slice(0, 12)}).`,
    );
  }
  return { state, stored, plan, used: walk.blobs };
}

/** Whether the index files must be rewritten: packs leave the index, or there are several. */
function indexChanges(plan: PrunePlan, state: IndexState): boolean {
  return (
    plan.remove.length + plan.repack.length + plan.missing.length > 0 || state.names.length > 1
  );
}

function summarize({ state, stored, plan, used }: Decision): PruneReport {
  const count = (packs: readonly PackContents[]): PackCount => ({
    packs: packs.length,
    bytes: packs.reduce((sum, pack) => sum + (stored.get(pack.id) ?? 0), 0),
  });
  const moved = plan.repack.flatMap((r) => r.move);
  const removed = count(plan.remove);
  const repacked = count(plan.repack.map((r) => r.pack));
  const unreferenced = {
    packs: plan.unreferenced.length,
    bytes: plan.unreferenced.reduce((sum, p) => sum + p.size, 0),
  };
  const bytesMoved = moved.reduce((sum, blob) => sum + blob.length, 0);
  const rewrite = indexChanges(plan, state);
  return {
    dryRun: true,
    usedBlobs: used.size,
    kept: { ...count(plan.keep), unusedBytes: plan.keptUnusedBytes },
    removed,
    repacked: { ...repacked, blobsMoved: moved.length, bytesMoved },
    written: { packs: 0, bytes: 0 },
    temporary: { objects: 0, bytes: 0 },
    unreferenced,
    missing: plan.missing.length,
    indexFiles: { removed: rewrite ? state.names.length : 0, written: rewrite ? 1 : 0 },
    bytesFreed: removed.bytes + repacked.bytes + unreferenced.bytes - bytesMoved,
  };
}

async function execute(
  repo: Repository,
  lock: RepoLock,
  { state, plan }: Decision,
  report: PruneReport,
  options: PruneOptions,
): Promise<void> {
  const { signal } = options;
  const progress = (phase: PruneProgress["phase"], done: number, total: number): void =>
    options.onProgress?.({ phase, done, total });
  report.dryRun = false;

  // 1. Repack.
  let written: PackContents[] = [];
  if (plan.repack.length > 0) {
    lock.check();
    const packer = new Packer(repo, { ignoreIndex: true });
    let done = 0;
    progress("repack", 0, plan.repack.length);
    try {
      for (const { pack, move } of plan.repack) {
        signal?.throwIfAborted();
        const sealed = await readSealedBlobs(repo, pack.id, move);
        for (const blob of move) {
          const bytes = sealed.get(blob.id) ?? Buffer.alloc(0);
          try {
            // Copying a damaged blob would hide the damage behind a fresh pack.
            repo.openBlob(blob.type, blob.id, bytes, blob.rawLength);
          } catch (error) {
            if (!(error instanceof RepoError)) throw error;
            throw new RepoError(
              "DAMAGED",
              `${error.message} It was to be moved out of pack ${pack.id.slice(0, 12)}; prune stopped before removing anything. Run \`ferry check --read-data\`.`,
              { cause: error },
            );
          }
          await packer.add(blob.type, blob.id, bytes, blob.rawLength);
        }
        progress("repack", ++done, plan.repack.length);
      }
      written = await packer.finish();
    } catch (error) {
      await packer.abandon();
      throw error;
    }
    const stored = new Set(written.flatMap((pack) => pack.blobs.map((blob) => blob.id)));
    const dropped = plan.repack.flatMap((r) => r.move).find((blob) => !stored.has(blob.id));
    if (dropped !== undefined) {
      throw new Error(
        `Repacking did not store blob ${dropped.id}; prune stopped before removing anything.`,
      );
    }
    report.written = {
      packs: packer.stats.packs,
      bytes: packer.stats.packedBytes,
    };
    report.bytesFreed += report.repacked.bytesMoved - packer.stats.packedBytes;
  }

  // 2. One index for everything kept, superseding every index file there is now.
  if (indexChanges(plan, state)) {
    signal?.throwIfAborted();
    lock.check();
    progress("write-index", 0, 1);
    const names = (await listNames(repo.storage, DIRS.index))
      .map((entry) => entry.name)
      .filter(isObjectName);
    const name = await repo.writeIndex([...plan.keep, ...written], names);
    progress("write-index", 1, 1);

    // 3. The superseded index files.
    lock.check();
    const old = names.filter((n) => n !== name);
    let removed = 0;
    for (const n of old) {
      await repo.removeIndex(n);
      progress("remove-index", ++removed, old.length);
    }
  }

  // 4. Obsolete packs.
  const obsolete = [
    ...plan.remove.map((p) => p.id),
    ...plan.repack.map((r) => r.pack.id),
    ...plan.unreferenced.map((p) => p.id),
  ];
  if (obsolete.length > 0) {
    signal?.throwIfAborted();
    lock.check();
    let removed = 0;
    await mapLimit(obsolete, repo.storage.capabilities.maxConnections, async (id) => {
      await repo.storage.remove(packKey(id)).catch(ignoreNotFound);
      await repo.cache?.drop("packs", id);
      progress("remove-packs", ++removed, obsolete.length);
    });
  }
  repo.forgetTreePacks();
}
