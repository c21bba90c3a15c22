/**
 * The data phase of a restore, planned by pack: every needed blob is mapped to the places in
 * files that hold it, each pack's needed span is downloaded once (packs in parallel, streamed
 * blob by blob so memory stays at about one blob per connection), every blob is authenticated,
 * then written with positioned writes into files opened on demand.
 */
import { open, unlink, type FileHandle } from "node:fs/promises";
import { isRepoError, RepoError } from "../repo/errors.ts";
import type { BlobLocation } from "../repo/index-file.ts";
import { packKey } from "../repo/layout.ts";
import type { Repository } from "../repo/repository.ts";
import type { TreeNode } from "../repo/tree.ts";
import { isStorageError } from "../storage/errors.ts";
import type { BlobOpener } from "./blob-openers.ts";
import { ByteQueue, InFlight } from "./restore-queues.ts";
import {
  applyHandleMeta,
  CREATE_FLAGS,
  reason,
  REOPEN_FLAGS,
  unlinkIfThere,
} from "./restore-target.ts";

/** One file whose contents the data phase writes. */
export interface FileJob {
  /** Snapshot path, for messages. */
  path: string;
  dest: string;
  node: TreeNode;
  /** Sum of the chunks' lengths. */
  size: number;
  chunks: { id: string; location: BlobLocation }[];
  /** Set the node's owner once written (false when the file is created with it already). */
  chown: boolean;
  /** An old file is at `dest`: removed just before the first write, not when planning. */
  replace?: boolean;
}

/** What the data phase reports as it goes. */
export interface DataEvents {
  written(job: FileJob, bytes: number): void;
  /** The file is complete and closed; `metaError` when its metadata could not all be set. */
  done(job: FileJob, metaError: unknown): void;
  /** The file was not restored (and was removed); `damaged` when the repository is to blame. */
  failed(job: FileJob, message: string, damaged: boolean): void;
}

interface JobState {
  job: FileJob;
  remaining: number;
  failed: boolean;
  created: boolean;
  handle: FileHandle | undefined;
  opening: Promise<FileHandle> | undefined;
  /** Writes in flight; a busy handle is never closed to make room. */
  busy: number;
}

interface Needed {
  id: string;
  location: BlobLocation;
  targets: { state: JobState; offset: number }[];
}

/** Gaps between needed blobs of one pack above this are skipped with a new ranged read. */
const MAX_GAP = 1024 * 1024;
/** Bytes and blobs of one pack span written at once while later blobs are opened. */
const MAX_WRITING_BYTES = 8 * 1024 * 1024;
const MAX_WRITING_BLOBS = 32;
/** Files held open at once; the least recently used idle one is closed beyond this. */
const MAX_OPEN = 512;

/** Options of {@link writeData}. */
export interface DataOptions {
  /** Packs downloaded at once. */
  concurrency: number;
  opener: BlobOpener;
  events: DataEvents;
  signal?: AbortSignal | undefined;
}

/** Writes the contents of `jobs`, downloading up to `concurrency` packs at once. */
export async function writeData(
  repo: Repository,
  jobs: readonly FileJob[],
  options: DataOptions,
): Promise<void> {
  await new DataWriter(repo, options).run(jobs, Math.max(1, options.concurrency));
}

class DataWriter {
  readonly #repo: Repository;
  readonly #opener: BlobOpener;
  readonly #events: DataEvents;
  readonly #signal: AbortSignal | undefined;
  /** Open handles, least recently used first. */
  readonly #open = new Map<JobState, FileHandle>();
  #fatal: { error: unknown } | undefined;

  constructor(repo: Repository, options: DataOptions) {
    this.#repo = repo;
    this.#opener = options.opener;
    this.#events = options.events;
    this.#signal = options.signal;
  }

  async run(jobs: readonly FileJob[], concurrency: number): Promise<void> {
    const blobs = new Map<string, Needed>();
    // Packs in order of first use, so files complete (and close) roughly in plan order.
    const packs = new Map<string, Needed[]>();
    for (const job of jobs) {
      const state: JobState = {
        job,
        remaining: job.chunks.length,
        failed: false,
        created: false,
        handle: undefined,
        opening: undefined,
        busy: 0,
      };
      let offset = 0;
      for (const { id, location } of job.chunks) {
        let needed = blobs.get(id);
        if (needed === undefined) {
          needed = { id, location, targets: [] };
          blobs.set(id, needed);
          const list = packs.get(location.pack);
          if (list === undefined) packs.set(location.pack, [needed]);
          else list.push(needed);
        }
        needed.targets.push({ state, offset });
        offset += location.rawLength;
      }
    }
    const queue = [...packs];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        if (this.#stopped()) return;
        for (const range of ranges(next[1])) {
          if (this.#stopped()) return;
          await this.#range(next[0], range);
        }
      }
    };
    const workers = Array.from({ length: Math.min(concurrency, queue.length) }, () =>
      worker().catch((error: unknown) => {
        this.#fatal ??= { error };
      }),
    );
    await Promise.all(workers);
    await Promise.all([...this.#open.keys()].map((state) => this.#close(state)));
    if (this.#fatal !== undefined) throw this.#fatal.error;
    this.#signal?.throwIfAborted();
  }

  #stopped(): boolean {
    return this.#fatal !== undefined || this.#signal?.aborted === true;
  }

  /**
   * Downloads one span of a pack and handles its blobs as their bytes arrive. Blobs are opened
   * in turn; their writes run on while the next ones are opened, up to a bound of bytes.
   */
  async #range(pack: string, blobs: Needed[]): Promise<void> {
    const first = blobs[0] as Needed;
    const last = blobs[blobs.length - 1] as Needed;
    const start = first.location.offset;
    const end = last.location.offset + last.location.length;
    const bytes = new ByteQueue();
    const writing = new InFlight();
    let position = start;
    let next = 0;
    try {
      for await (const chunk of this.#repo.storage.read(packKey(pack), {
        offset: start,
        length: end - start,
      })) {
        bytes.push(chunk as Buffer);
        for (let blob = blobs[next]; blob !== undefined; blob = blobs[next]) {
          const { offset, length } = blob.location;
          if (bytes.length < offset + length - position) break;
          bytes.skip(offset - position);
          const sealed = bytes.take(length);
          position = offset + length;
          next++;
          const weight = blob.location.rawLength * blob.targets.length;
          writing.add(this.#blob(pack, blob, sealed), weight);
          await writing.below(MAX_WRITING_BYTES, MAX_WRITING_BLOBS);
          if (this.#stopped()) return;
        }
      }
    } catch (error) {
      if (!isStorageError(error, "NOT_FOUND")) throw error;
      await this.#lose(pack, blobs.slice(next), "is missing from the destination");
      return;
    } finally {
      await writing.drain();
    }
    await this.#lose(pack, blobs.slice(next), "is truncated");
  }

  async #lose(pack: string, blobs: readonly Needed[], what: string): Promise<void> {
    for (const blob of blobs) {
      const message = `Pack ${pack.slice(0, 12)} ${what}: data blob ${blob.id.slice(0, 12)} is lost`;
      for (const { state } of blob.targets) await this.#fail(state, message, true);
    }
  }

  async #blob(pack: string, blob: Needed, sealed: Buffer): Promise<void> {
    if (blob.targets.every((t) => t.state.failed)) return;
    let plain: Buffer;
    try {
      plain = await this.#opener.open(blob.id, sealed, blob.location.rawLength);
      if (plain.length !== blob.location.rawLength) {
        throw new RepoError(
          "DAMAGED",
          `Data blob ${blob.id.slice(0, 12)} holds ${plain.length} bytes, its index entry says ${blob.location.rawLength}.`,
        );
      }
    } catch (error) {
      if (!isRepoError(error)) throw error;
      const message = `${error.message.replace(/\.$/, "")} (in pack ${pack.slice(0, 12)})`;
      for (const { state } of blob.targets) await this.#fail(state, message, true);
      return;
    }
    await Promise.all(blob.targets.map((t) => this.#write(t.state, plain, t.offset)));
  }

  async #write(state: JobState, data: Buffer, offset: number): Promise<void> {
    if (state.failed) return;
    state.busy++;
    try {
      const handle = await this.#handle(state);
      for (let done = 0; done < data.length; ) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (error) {
      state.busy--;
      await this.#fail(state, `Writing ${state.job.dest} failed: ${reason(error)}`, false);
      return;
    }
    state.busy--;
    if (hasFailed(state)) return;
    this.#events.written(state.job, data.length);
    if (--state.remaining === 0) await this.#finish(state);
  }

  async #finish(state: JobState): Promise<void> {
    let metaError: unknown;
    // Busy while finishing, or making room for another file could close this one's handle.
    state.busy++;
    try {
      await applyHandleMeta(await this.#handle(state), state.job.node, state.job.chown);
    } catch (error) {
      metaError = error;
    } finally {
      state.busy--;
    }
    await this.#close(state);
    this.#events.done(state.job, metaError);
  }

  /** Marks a file failed once: its handle is closed and what was written of it removed. */
  async #fail(state: JobState, message: string, damaged: boolean): Promise<void> {
    if (state.failed) return;
    state.failed = true;
    await state.opening?.catch(() => undefined);
    await this.#close(state);
    if (state.created) await unlink(state.job.dest).catch(() => undefined);
    this.#events.failed(state.job, `${state.job.path}: not restored: ${message}.`, damaged);
  }

  #handle(state: JobState): Promise<FileHandle> {
    const { handle } = state;
    if (handle !== undefined) {
      this.#open.delete(state);
      this.#open.set(state, handle);
      return Promise.resolve(handle);
    }
    state.opening ??= (async () => {
      try {
        await this.#makeRoom();
        // The first open creates the file (never reusing one: O_EXCL, O_NOFOLLOW) at full size.
        if (!state.created && state.job.replace === true) await unlinkIfThere(state.job.dest);
        const opened = state.created
          ? await open(state.job.dest, REOPEN_FLAGS)
          : await open(state.job.dest, CREATE_FLAGS, 0o600);
        if (!state.created) {
          state.created = true;
          // One chunk sets the size itself; more may arrive out of order, so size it now.
          if (state.job.chunks.length > 1) await opened.truncate(state.job.size);
        }
        state.handle = opened;
        this.#open.set(state, opened);
        return opened;
      } finally {
        state.opening = undefined;
      }
    })();
    return state.opening;
  }

  async #makeRoom(): Promise<void> {
    if (this.#open.size < MAX_OPEN) return;
    for (const state of this.#open.keys()) {
      if (state.busy === 0) {
        await this.#close(state);
        return;
      }
    }
  }

  async #close(state: JobState): Promise<void> {
    const { handle } = state;
    if (handle === undefined) return;
    state.handle = undefined;
    this.#open.delete(state);
    await handle.close().catch(() => undefined);
  }
}

/** Reads the flag anew: another blob's failure may have set it while a write was awaited. */
function hasFailed(state: JobState): boolean {
  return state.failed;
}

/** Splits a pack's needed blobs into spans read in one request each. */
function ranges(blobs: Needed[]): Needed[][] {
  const sorted = [...blobs].sort((a, b) => a.location.offset - b.location.offset);
  const out: Needed[][] = [];
  let current: Needed[] = [];
  let end = 0;
  for (const blob of sorted) {
    if (current.length > 0 && blob.location.offset - end > MAX_GAP) {
      out.push(current);
      current = [];
    }
    current.push(blob);
    end = blob.location.offset + blob.location.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}
