/**
 * Opening data blobs for a restore: on the main thread for small restores, or on worker threads
 * (blob-open-worker.ts) when there is enough to restore to pay for starting them.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { RepoError, type RepoErrorCode } from "../repo/errors.ts";
import type { Repository } from "../repo/repository.ts";

/** What a worker is started with. */
export interface OpenerInit {
  encryptionKey: Uint8Array;
  macKey: Uint8Array;
}

/** Main → worker: one sealed blob. */
export interface OpenRequest {
  seq: number;
  id: string;
  sealed: Uint8Array;
  rawLength: number;
}

/** Worker → main: the plaintext, or why the blob does not open. */
export type OpenReply =
  | { seq: number; plain: Uint8Array }
  | { seq: number; code: RepoErrorCode | undefined; message: string };

/** Authenticates and opens sealed data blobs; rejects with DAMAGED as Repository.openBlob. */
export interface BlobOpener {
  /**
   * The plaintext of one blob. Takes `sealed` over: when it owns its whole ArrayBuffer that
   * memory is moved to a worker, so the caller must not use it afterwards.
   */
  open(id: string, sealed: Buffer, rawLength: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Below this many bytes to restore, starting workers costs more than it saves. */
const WORKER_THRESHOLD = 64 * 1024 * 1024;

/** When to use worker threads. */
export interface OpenerOptions {
  /** Bytes to restore from which workers are started [64 MiB]. */
  threshold?: number;
  /** Worker threads [one per core beside the main thread's, at most four]. */
  workers?: number;
}

/**
 * An opener for a restore of `bytes`: worker threads when the restore is large and there is a
 * core to spare, else the main thread.
 */
export function blobOpener(
  repo: Repository,
  bytes: number,
  options: OpenerOptions = {},
): BlobOpener {
  const workers = options.workers ?? Math.min(4, availableParallelism() - 1);
  if (bytes < (options.threshold ?? WORKER_THRESHOLD) || workers < 1) {
    return {
      open: (id, sealed, rawLength) =>
        Promise.resolve().then(() => repo.openBlob("data", id, sealed, rawLength)),
      close: () => Promise.resolve(),
    };
  }
  return new WorkerOpener({ encryptionKey: repo.keys.encryption, macKey: repo.keys.mac }, workers);
}

interface Pending {
  resolve: (plain: Buffer) => void;
  reject: (error: Error) => void;
}

class WorkerOpener implements BlobOpener {
  readonly #workers: { worker: Worker; load: number }[] = [];
  readonly #pending = new Map<number, Pending & { worker: { load: number } }>();
  #seq = 0;
  #failure: Error | undefined;

  constructor(init: OpenerInit, count: number) {
    const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    const url = new URL(`./blob-open-worker${ext}`, import.meta.url);
    for (let i = 0; i < count; i++) {
      const worker = new Worker(url, { workerData: init });
      const slot = { worker, load: 0 };
      worker.on("message", (reply: OpenReply) => {
        this.#settle(reply);
      });
      worker.on("error", (error: Error) => {
        this.#fail(error);
      });
      worker.on("exit", (code) => {
        if (code !== 0) this.#fail(new Error(`A restore worker exited with code ${code}.`));
      });
      this.#workers.push(slot);
    }
  }

  open(id: string, sealed: Buffer, rawLength: number): Promise<Buffer> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    // The least loaded worker.
    const slot = this.#workers.reduce((a, b) => (b.load < a.load ? b : a));
    const seq = this.#seq++;
    slot.load++;
    // Cloning a view clones its whole ArrayBuffer (a network chunk holding other blobs): the
    // blob's bytes are moved, copied first unless they own their memory.
    const memory = sealed.buffer;
    const whole =
      memory instanceof ArrayBuffer &&
      sealed.byteOffset === 0 &&
      sealed.byteLength === memory.byteLength;
    const own = whole ? new Uint8Array(memory) : new Uint8Array(sealed);
    const request: OpenRequest = { seq, id, sealed: own, rawLength };
    return new Promise<Buffer>((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject, worker: slot });
      slot.worker.postMessage(request, [own.buffer]);
    });
  }

  #settle(reply: OpenReply): void {
    const pending = this.#pending.get(reply.seq);
    if (pending === undefined) return;
    this.#pending.delete(reply.seq);
    pending.worker.load--;
    if ("plain" in reply) {
      pending.resolve(Buffer.from(reply.plain.buffer, reply.plain.byteOffset, reply.plain.length));
    } else {
      pending.reject(
        reply.code === undefined
          ? new Error(reply.message)
          : new RepoError(reply.code, reply.message),
      );
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  async close(): Promise<void> {
    this.#failure ??= new Error("The restore's workers are closed.");
    await Promise.all(this.#workers.map(({ worker }) => worker.terminate()));
  }
}
