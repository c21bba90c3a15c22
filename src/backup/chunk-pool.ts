/**
 * The CPU stages of a backup on worker threads (chunk-worker.ts). The main thread answers which
 * chunks are new and hands sealed blobs to the Packer. Replies to a file's next question wait
 * until its earlier blobs are packed, so a slow upload stalls the workers: memory stays flat.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { AeadName } from "../repo/crypto.ts";
import type { ChunkerParams } from "../repo/chunker.ts";
import type { Packer } from "../repo/packer.ts";
import type { Repository } from "../repo/repository.ts";

/** What a worker is started with. */
export interface WorkerInit {
  aead: AeadName;
  encryptionKey: Uint8Array;
  macKey: Uint8Array;
  chunkerSeed: Uint8Array;
  chunker: ChunkerParams;
  level: number;
}

/** What the walk saw of a file: the worker reads it and reports a change since. */
export interface WalkedFile {
  size: number;
  /** Nanoseconds, as in tree nodes. */
  mtime: string;
}

/** Main → worker. */
export type ToWorker =
  | { t: "file"; job: number; path: string; expected: WalkedFile | undefined }
  | { t: "need"; job: number; batch: number; need: boolean[] };

/** Worker → main. */
export type FromWorker =
  | { t: "ids"; job: number; batch: number; ids: string[] }
  | { t: "blob"; job: number; id: string; sealed: Uint8Array; rawLength: number }
  | { t: "progress"; job: number; bytes: number }
  | { t: "done"; job: number; content: string[]; size: number; changed: boolean }
  | { t: "fail"; job: number; code: string; message: string };

/** A file's chunk list as read. */
export interface ChunkedFile {
  content: string[];
  size: number;
  /** The file changed while it was read; its content is whatever was read. */
  changed: boolean;
}

/** A file that could not be read; `code` is the errno code. */
export class ReadFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

interface Job {
  worker: Worker;
  chain: Promise<unknown>;
  resolve: (file: ChunkedFile) => void;
  reject: (error: unknown) => void;
  onBytes: ((bytes: number) => void) | undefined;
}

/** Default worker count: one per core. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

function workerUrl(): URL {
  // Runs from sources (.ts) and from the build (.js) alike.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./chunk-worker${ext}`, import.meta.url);
}

export class ChunkPool {
  readonly #packer: Packer;
  readonly #workers: Worker[] = [];
  readonly #load = new Map<Worker, number>();
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  #fatal: Error | undefined;

  readonly #init: WorkerInit;
  readonly #size: number;

  /** Workers start with the first file to read: an unchanged backup starts none. */
  constructor(repo: Repository, packer: Packer, workers = defaultWorkers()) {
    this.#packer = packer;
    this.#size = Math.max(1, workers);
    this.#init = {
      aead: repo.config.aead,
      encryptionKey: repo.keys.encryption,
      macKey: repo.keys.mac,
      chunkerSeed: repo.keys.chunker,
      chunker: repo.config.chunker,
      level: repo.config.compression.level,
    };
  }

  #start(): void {
    for (let i = 0; i < this.#size; i++) {
      const worker = new Worker(workerUrl(), { workerData: this.#init });
      worker.on("message", (message: FromWorker) => {
        this.#onMessage(worker, message);
      });
      worker.on("error", (error) => {
        this.#fail(error);
      });
      this.#workers.push(worker);
      this.#load.set(worker, 0);
    }
  }

  /** Reads, chunks and stores one file; resolves with its chunk list. */
  chunkFile(
    path: string,
    expected: WalkedFile | undefined,
    onBytes?: (bytes: number) => void,
  ): Promise<ChunkedFile> {
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    if (this.#workers.length === 0) this.#start();
    const worker = this.#workers.reduce((a, b) =>
      (this.#load.get(a) ?? 0) <= (this.#load.get(b) ?? 0) ? a : b,
    );
    const job = this.#next++;
    this.#load.set(worker, (this.#load.get(worker) ?? 0) + 1);
    return new Promise<ChunkedFile>((resolve, reject) => {
      this.#jobs.set(job, { worker, chain: Promise.resolve(), resolve, reject, onBytes });
      worker.postMessage({ t: "file", job, path, expected } satisfies ToWorker);
    });
  }

  #onMessage(worker: Worker, message: FromWorker): void {
    const job = this.#jobs.get(message.job);
    if (job === undefined) return;
    const then = (step: () => unknown): void => {
      job.chain = job.chain.then(step);
      job.chain.catch((error: unknown) => {
        // Packing failed (an upload after its retries, a full destination): the whole backup
        // fails. Rejecting every job frees the walk's slots; workers waiting for an answer are
        // terminated by close().
        this.#fail(error);
      });
    };
    switch (message.t) {
      case "ids":
        then(() => {
          const need = message.ids.map((id) => !this.#packer.has(id));
          worker.postMessage({
            t: "need",
            job: message.job,
            batch: message.batch,
            need,
          } satisfies ToWorker);
        });
        return;
      case "blob":
        then(() => this.#packer.add("data", message.id, message.sealed, message.rawLength));
        return;
      case "progress":
        job.onBytes?.(message.bytes);
        return;
      case "done":
        then(() => {
          this.#finish(worker, message.job);
          job.resolve({ content: message.content, size: message.size, changed: message.changed });
        });
        return;
      case "fail":
        then(() => {
          this.#finish(worker, message.job);
          job.reject(new ReadFailure(message.code, message.message));
        });
        return;
    }
  }

  #finish(worker: Worker, job: number): void {
    if (!this.#jobs.delete(job)) return;
    this.#load.set(worker, (this.#load.get(worker) ?? 1) - 1);
  }

  #fail(error: unknown): void {
    this.#fatal ??= error instanceof Error ? error : new Error(String(error));
    for (const [id, job] of this.#jobs) {
      this.#jobs.delete(id);
      job.reject(error);
    }
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
