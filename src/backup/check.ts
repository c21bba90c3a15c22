/**
 * `ferry check`: verifies the repository's structure and, on request, its data. Everything is
 * read from the destination, not the cache, so damage on the destination cannot hide behind a
 * good cached copy. Every problem names the object, what is wrong, and the snapshots and files
 * that are affected.
 */
import { RepoError } from "../repo/errors.ts";
import type { BlobLocation } from "../repo/index-file.ts";
import { listNames, mapLimit, readAll } from "../repo/io.ts";
import { DIRS, isObjectName, packKey } from "../repo/layout.ts";
import { RepoLock, type LeaseOptions } from "../repo/lock.ts";
import { parsePack } from "../repo/pack.ts";
import type { Repository } from "../repo/repository.ts";
import { isStorageError } from "../storage/errors.ts";
import { BlobReader } from "./blob-reader.ts";
import { describeHeaderMismatch, packsToRead, readSnapshot } from "./check-reads.ts";
import { readIndexState } from "./index-state.ts";
import { expectedPackSize, listStoredPacks } from "./pack-listing.ts";
import { findUsers, walkTrees } from "./tree-walk.ts";

/** Which step a check is in, with a count where the step has one. */
export interface CheckProgress {
  phase: "index" | "packs" | "snapshots" | "trees" | "data";
  done: number;
  /** 0 where the total is not known in advance (trees). */
  total: number;
}

/** Options of {@link check}. */
export interface CheckOptions {
  /** Download every pack and authenticate every blob. */
  readData?: boolean;
  /** Download this percentage (0-100) of the packs, chosen at random; ignored with `readData`. */
  readDataSubset?: number;
  onProgress?: (progress: CheckProgress) => void;
  signal?: AbortSignal;
  /** Lease timing of the shared lock (tests). */
  lease?: LeaseOptions;
}

/** Files of one snapshot that a problem affects. */
export interface AffectedFiles {
  snapshot: string;
  /** Paths from the snapshot's root (`/` for the root tree); empty for the whole snapshot. */
  paths: string[];
}

/** One thing wrong with the repository. */
export interface CheckProblem {
  object: "index" | "pack" | "snapshot" | "tree" | "blob";
  /** Full id (file name) of the object. */
  id: string;
  /** What is wrong, as a sentence naming the object. */
  message: string;
  /** Snapshots and files whose data is lost through this problem, oldest snapshot first. */
  affected: AffectedFiles[];
}

/** What a check looked at. */
export interface CheckStats {
  indexFiles: number;
  /** Packs the index lists. */
  packs: number;
  /** Distinct blobs the index lists. */
  blobs: number;
  snapshots: number;
  /** Distinct trees read. */
  trees: number;
  /** Distinct data blobs the snapshots use. */
  dataBlobs: number;
  /** Packs in `data/` that no index lists. */
  unreferencedPacks: number;
  /** Packs downloaded and verified (read-data). */
  packsRead: number;
  bytesRead: number;
}

/** The outcome: no errors means the repository is sound. */
export interface CheckReport {
  errors: CheckProblem[];
  /** Things worth knowing that lose no data (unreferenced packs). */
  warnings: string[];
  stats: CheckStats;
}

interface Problem extends Omit<CheckProblem, "affected"> {
  /** Blobs this problem makes unreadable here (at this location, for pack problems). */
  blobs: string[];
}

/**
 * Checks the repository under a shared lock (none on a read-only destination): index files,
 * pack presence and sizes, snapshots, every tree reachable from them, that every blob they use
 * is indexed, and with `readData`/`readDataSubset` the packs' bytes. Rejects only when the check
 * itself cannot run (lock, storage failure, abort); damage is reported in the result.
 */
export async function check(repo: Repository, options: CheckOptions = {}): Promise<CheckReport> {
  // Validated before the lock, so a bad option touches nothing.
  packsToRead([], options);
  options.signal?.throwIfAborted();
  const lock = repo.storage.capabilities.readOnly
    ? undefined
    : await RepoLock.acquire(repo, false, "check", options.lease);
  try {
    return await runCheck(repo, options);
  } finally {
    await lock?.release();
  }
}

async function runCheck(repo: Repository, options: CheckOptions): Promise<CheckReport> {
  const { signal } = options;
  const progress = (phase: CheckProgress["phase"], done: number, total: number): void =>
    options.onProgress?.({ phase, done, total });
  const concurrency = repo.storage.capabilities.maxConnections;
  const problems: Problem[] = [];
  const warnings: string[] = [];

  // Snapshot names first, index second: a backup running beside us (both hold shared locks)
  // writes its index before its snapshot, so every snapshot listed here has its index in place.
  const snapshotNames = (await listNames(repo.storage, DIRS.snapshot))
    .map((entry) => entry.name)
    .filter(isObjectName);
  const state = await readIndexState(repo, (done, total) => {
    progress("index", done, total);
  });
  for (const failure of state.failures) {
    problems.push({ object: "index", id: failure.name, message: failure.message, blobs: [] });
  }
  signal?.throwIfAborted();

  // Packs: present, and exactly as large as their index entry says.
  progress("packs", 0, state.packs.size);
  const stored = await listStoredPacks(repo);
  /** Packs missing or of the wrong size: their locations are not trusted for reading. */
  const badPacks = new Set<string>();
  /** Blob locations found unreadable: `pack/blob`. */
  const badLocations = new Set<string>();
  const markBad = (pack: string, blob: string): void => {
    badLocations.add(`${pack}/${blob}`);
  };
  for (const pack of state.packs.values()) {
    const size = stored.get(pack.id);
    const expected = expectedPackSize(pack);
    if (size === undefined) {
      badPacks.add(pack.id);
      for (const blob of pack.blobs) markBad(pack.id, blob.id);
      problems.push({
        object: "pack",
        id: pack.id,
        message: `Pack ${pack.id} is listed in the index but missing from data/.`,
        blobs: pack.blobs.map((b) => b.id),
      });
    } else if (size !== expected) {
      badPacks.add(pack.id);
      // Blobs sit in front of the header: a cut keeps those before it readable.
      const lost = pack.blobs.filter((b) => b.offset + b.length > size);
      for (const blob of lost) markBad(pack.id, blob.id);
      problems.push({
        object: "pack",
        id: pack.id,
        message:
          size < expected
            ? `Pack ${pack.id} is truncated: ${size} bytes where the index needs ${expected}.`
            : `Pack ${pack.id} is ${size} bytes where the index needs ${expected}: bytes were appended.`,
        blobs: lost.map((b) => b.id),
      });
    }
  }
  const unindexedNote =
    state.failures.length > 0
      ? " It may also be listed by a damaged index file; prune refuses to run while one is."
      : "";
  let unreferencedPacks = 0;
  for (const [id, size] of [...stored].sort(([a], [b]) => a.localeCompare(b))) {
    if (state.packs.has(id)) continue;
    unreferencedPacks++;
    warnings.push(
      `Pack ${id} (${size} bytes) is not in any index: unreferenced (left by an interrupted backup; prune removes them).${unindexedNote}`,
    );
  }
  progress("packs", state.packs.size, state.packs.size);
  signal?.throwIfAborted();

  // Snapshots.
  let snapshotsDone = 0;
  const loaded = await mapLimit(snapshotNames, concurrency, async (id) => {
    signal?.throwIfAborted();
    try {
      const snapshot = await readSnapshot(repo, id);
      return snapshot === undefined ? undefined : { id, snapshot };
    } catch (error) {
      if (!(error instanceof RepoError)) throw error;
      problems.push({ object: "snapshot", id, message: error.message, blobs: [] });
      return undefined;
    } finally {
      progress("snapshots", ++snapshotsDone, snapshotNames.length);
    }
  });
  const snapshots = loaded
    .filter((s) => s !== undefined)
    .sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
  const damagedSnapshots = problems.filter((p) => p.object === "snapshot").map((p) => p.id);

  // Trees, and that every blob they use is indexed.
  const locate = (id: string): BlobLocation | undefined => {
    const list = state.locations.get(id);
    return list?.find((at) => !badPacks.has(at.pack)) ?? list?.[0];
  };
  const reader = new BlobReader(repo, locate);
  const loadTree = (id: string) => reader.loadTree(id);
  const walk = await walkTrees(
    snapshots.map((s) => s.snapshot.tree),
    loadTree,
    {
      concurrency,
      signal,
      onTree: (trees) => {
        progress("trees", trees, 0);
      },
    },
  );
  for (const [tree, error] of walk.failures) {
    const at = locate(tree);
    // A tree in a missing or short pack is already reported with its pack.
    if (at !== undefined && badLocations.has(`${at.pack}/${tree}`)) continue;
    if (at !== undefined) markBad(at.pack, tree);
    problems.push({
      object: "tree",
      id: tree,
      message:
        error.code === "NOT_FOUND"
          ? error.message
          : `Tree ${tree} cannot be read: ${error.message}`,
      blobs: [tree],
    });
  }
  let dataBlobs = 0;
  for (const [id, type] of walk.blobs) {
    if (type !== "data") continue;
    dataBlobs++;
    if (state.locations.get(id)?.some((at) => at.type === "data") === true) continue;
    problems.push({
      object: "blob",
      id,
      message: `Data blob ${id} is used by a snapshot but not in any index.`,
      blobs: [id],
    });
  }
  signal?.throwIfAborted();

  // Data: download packs, match each header against the index, authenticate every blob.
  const present = [...state.packs.values()].filter((p) => stored.has(p.id));
  const toRead = packsToRead(present, options);
  let packsRead = 0;
  let bytesRead = 0;
  if (toRead.length > 0) progress("data", 0, toRead.length);
  // Whole packs are held in memory: a few at a time, whatever the connection limit.
  await mapLimit(toRead, Math.min(concurrency, 4), async (pack) => {
    signal?.throwIfAborted();
    let bytes: Buffer;
    try {
      bytes = await readAll(repo.storage, packKey(pack.id));
    } catch (error) {
      // Removed since the listing: nothing else may remove packs under our lock, so say so.
      if (!isStorageError(error, "NOT_FOUND")) throw error;
      problems.push({
        object: "pack",
        id: pack.id,
        message: `Pack ${pack.id} disappeared while the check was reading it.`,
        blobs: pack.blobs.map((b) => b.id),
      });
      return;
    }
    packsRead++;
    bytesRead += bytes.length;
    const what = `Pack ${pack.id}`;
    try {
      const mismatch = describeHeaderMismatch(pack, parsePack(repo.keys.encryption, bytes, what));
      if (mismatch !== undefined) {
        problems.push({
          object: "pack",
          id: pack.id,
          message: `${what} does not match the index: ${mismatch}.`,
          blobs: [],
        });
      }
    } catch (error) {
      if (!(error instanceof RepoError)) throw error;
      // Size problems were reported from the listing already.
      if (!badPacks.has(pack.id)) {
        problems.push({ object: "pack", id: pack.id, message: error.message, blobs: [] });
      }
    }
    const damaged: string[] = [];
    let firstError = "";
    for (const blob of pack.blobs) {
      const sealed = bytes.subarray(blob.offset, blob.offset + blob.length);
      try {
        if (sealed.length !== blob.length) {
          throw new RepoError("DAMAGED", `Blob ${blob.id.slice(0, 12)} is cut short.`);
        }
        repo.openBlob(blob.type, blob.id, sealed, blob.rawLength);
      } catch (error) {
        if (!(error instanceof RepoError)) throw error;
        if (badLocations.has(`${pack.id}/${blob.id}`)) continue;
        markBad(pack.id, blob.id);
        damaged.push(blob.id);
        if (firstError === "") firstError = error.message;
      }
    }
    if (damaged.length > 0) {
      problems.push({
        object: "pack",
        id: pack.id,
        message: `${what}: ${damaged.length} of ${pack.blobs.length} blobs fail verification, the pack was modified (first: ${firstError}).`,
        blobs: damaged,
      });
    }
    progress("data", packsRead, toRead.length);
  });

  // Who loses what: a blob is lost when no location of it is intact.
  const intact = (blob: string): boolean =>
    state.locations.get(blob)?.some((at) => !badLocations.has(`${at.pack}/${blob}`)) === true;
  const lost = new Set<string>();
  for (const problem of problems)
    for (const blob of problem.blobs) if (!intact(blob)) lost.add(blob);
  const users = await findUsers(
    snapshots.map((s) => ({ id: s.id, tree: s.snapshot.tree })),
    lost,
    loadTree,
  );
  const order = new Map(snapshots.map((s, i) => [s.id, i]));
  const errors = problems.map((problem): CheckProblem => {
    const bySnapshot = new Map<string, Set<string>>();
    let copies = 0;
    for (const blob of problem.blobs) {
      if (!lost.has(blob)) {
        copies++;
        continue;
      }
      for (const [snapshot, paths] of users.get(blob) ?? []) {
        let set = bySnapshot.get(snapshot);
        if (set === undefined) bySnapshot.set(snapshot, (set = new Set()));
        for (const path of paths) set.add(path);
      }
    }
    const affected: AffectedFiles[] =
      problem.object === "snapshot"
        ? [{ snapshot: problem.id, paths: [] }]
        : [...bySnapshot]
            .sort(([a], [b]) => (order.get(a) ?? 0) - (order.get(b) ?? 0))
            .map(([snapshot, paths]) => ({ snapshot, paths: [...paths].sort() }));
    const message =
      copies > 0
        ? `${problem.message} ${copies} of its blobs have an intact copy in another pack.`
        : problem.message;
    return { object: problem.object, id: problem.id, message, affected };
  });
  errors.sort(
    (a, b) => PROBLEM_ORDER[a.object] - PROBLEM_ORDER[b.object] || a.id.localeCompare(b.id),
  );

  return {
    errors,
    warnings,
    stats: {
      indexFiles: state.names.length,
      packs: state.packs.size,
      blobs: state.locations.size,
      snapshots: snapshots.length + damagedSnapshots.length,
      trees: walk.trees,
      dataBlobs,
      unreferencedPacks,
      packsRead,
      bytesRead,
    },
  };
}

const PROBLEM_ORDER: Record<CheckProblem["object"], number> = {
  index: 0,
  pack: 1,
  snapshot: 2,
  tree: 3,
  blob: 4,
};
