/**
 * Worker thread of the backup pipeline: reads a file, chunks it, hashes each chunk, asks the main
 * thread which chunks are new, then compresses and seals those. The main thread only packs and
 * uploads. Messages are described in chunk-pool.ts.
 */
import {
  closeSync,
  constants,
  fstat,
  fstatSync,
  openSync,
  read,
  readSync,
  type BigIntStats,
} from "node:fs";
import { promisify } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { frame } from "../repo/codec.ts";
import { blobId, seal } from "../repo/crypto.ts";
import { Chunker, gearTable } from "../repo/chunker.ts";
import { blobAd } from "../repo/pack.ts";
import type { FromWorker, ToWorker, WalkedFile, WorkerInit } from "./chunk-pool.ts";

const READ_SIZE = 4 * 1024 * 1024;
const STDIN = "/dev/stdin";
const init = workerData as WorkerInit;
const gear = gearTable(init.chunkerSeed);
const port = parentPort;
if (port === null) throw new Error("chunk-worker.ts must run in a worker thread");
const answers = new Map<string, (need: boolean[]) => void>();
/** Chunkers and read buffers are reused: allocating 8 MiB per file dominated small-file backups. */
const spare: { chunker: Chunker; buffer: Buffer }[] = [];

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

port.on("message", (message: ToWorker) => {
  if (message.t === "file") {
    void chunkFile(message.job, message.path, message.expected);
  } else {
    const key = `${message.job}:${message.batch}`;
    answers.get(key)?.(message.need);
    answers.delete(key);
  }
});

async function sendBatch(
  job: number,
  batch: number,
  chunks: Uint8Array[],
  content: string[],
): Promise<void> {
  const ids = chunks.map((chunk) => blobId(init.macKey, chunk));
  const hex = ids.map((id) => id.toString("hex"));
  content.push(...hex);
  const need = await new Promise<boolean[]>((resolve) => {
    answers.set(`${job}:${batch}`, resolve);
    post({ t: "ids", job, batch, ids: hex });
  });
  const sent = new Set<string>();
  for (let i = 0; i < chunks.length; i++) {
    const id = hex[i] as string;
    if (need[i] !== true || sent.has(id)) continue;
    sent.add(id);
    const chunk = chunks[i] as Uint8Array;
    const sealed = seal(
      init.aead,
      init.encryptionKey,
      frame(chunk, init.level),
      blobAd("data", ids[i] as Buffer),
    );
    // Only a buffer that owns its whole ArrayBuffer may be transferred (small Buffers share a pool).
    const owns = sealed.byteOffset === 0 && sealed.buffer.byteLength === sealed.length;
    post(
      { t: "blob", job, id, sealed, rawLength: chunk.length },
      owns ? [sealed.buffer as ArrayBuffer] : [],
    );
  }
}

/** Large files read at once per worker: each holds a 4 MiB buffer and a chunker. */
const LARGE_AT_ONCE = 2;
let largeRunning = 0;
const largeWaiting: (() => void)[] = [];

function fail(job: number, error: unknown): void {
  post({
    t: "fail",
    job,
    code: (error as NodeJS.ErrnoException).code ?? "EIO",
    message: (error as Error).message,
  });
}

/** What the readers need of an open file. */
interface Source {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: null,
  ): Promise<{ bytesRead: number }>;
  stat(options: { bigint: true }): Promise<BigIntStats>;
  close(): Promise<void>;
}

const readFd = promisify(read);
const fstatFd = promisify(fstat);

/**
 * Standard input read straight from descriptor 0: `/dev/stdin` cannot be opened when it is a
 * socket (a parent process's pipe often is), and the main thread never touches process.stdin.
 */
function stdinSource(): Source {
  return {
    read: async (buffer: Buffer, offset: number, length: number) => {
      for (;;) {
        try {
          return await readFd(0, buffer, offset, length, null);
        } catch (error) {
          // A descriptor left non-blocking by whoever started us: wait for data.
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    },
    stat: () => fstatFd(0, { bigint: true }),
    close: () => Promise.resolve(),
  };
}

/**
 * A file read with synchronous calls. This is a worker thread, so blocking is harmless here,
 * while each fs.promises call cost a thread-pool round trip: open, read, fstat and close took
 * 2 of every 8 CPU seconds a worker spent on the benchmark's 20,000 small files.
 */
function fileSource(path: string): Source {
  // O_NOFOLLOW: the walk saw a regular file; if a symlink replaced it since, do not follow it.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  return {
    read: (buffer, offset, length) =>
      Promise.resolve({ bytesRead: readSync(fd, buffer, offset, length, null) }),
    stat: () => Promise.resolve(fstatSync(fd, { bigint: true })),
    close: () => {
      closeSync(fd);
      return Promise.resolve();
    },
  };
}

async function chunkFile(
  job: number,
  path: string,
  expected: WalkedFile | undefined,
): Promise<void> {
  let handle: Source;
  try {
    handle = path === STDIN ? stdinSource() : fileSource(path);
  } catch (error) {
    fail(job, error);
    return;
  }
  try {
    const content: string[] = [];
    const size =
      expected !== undefined && expected.size <= init.chunker.min
        ? await readSmall(handle, job, expected.size, content)
        : await readLarge(handle, job, content);
    const after = await handle.stat({ bigint: true });
    const changed =
      (expected !== undefined &&
        (after.mtimeNs.toString() !== expected.mtime || after.size !== BigInt(expected.size))) ||
      (after.isFile() && BigInt(size) !== after.size);
    post({ t: "done", job, content, size, changed });
  } catch (error) {
    fail(job, error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** A file no larger than the minimum chunk is one chunk: one read, no chunker. */
async function readSmall(
  handle: Source,
  job: number,
  expected: number,
  content: string[],
): Promise<number> {
  // One byte more than expected tells a file that grew since the walk.
  const buffer = Buffer.allocUnsafeSlow(expected + 1);
  let size = 0;
  while (size < buffer.length) {
    const { bytesRead } = await handle.read(buffer, size, buffer.length - size, null);
    if (bytesRead === 0) break;
    size += bytesRead;
  }
  if (size > expected) return readLarge(handle, job, content, buffer.subarray(0, size));
  if (size > 0) {
    const chunk = new Uint8Array(buffer.buffer, 0, size);
    await sendBatch(job, 0, [chunk], content);
    post({ t: "progress", job, bytes: size });
  }
  return size;
}

async function readLarge(
  handle: Source,
  job: number,
  content: string[],
  head?: Uint8Array,
): Promise<number> {
  if (largeRunning >= LARGE_AT_ONCE)
    await new Promise<void>((resolve) => largeWaiting.push(resolve));
  largeRunning++;
  const tools = spare.pop() ?? {
    chunker: new Chunker(gear, init.chunker),
    buffer: Buffer.allocUnsafeSlow(READ_SIZE),
  };
  try {
    const { chunker, buffer } = tools;
    let size = 0;
    let batch = 0;
    let pending = head;
    for (;;) {
      let piece: Uint8Array;
      if (pending !== undefined) {
        piece = pending;
        pending = undefined;
      } else {
        const { bytesRead } = await handle.read(buffer, 0, READ_SIZE, null);
        piece = buffer.subarray(0, bytesRead);
      }
      const chunks = piece.length === 0 ? chunker.finish() : chunker.push(piece);
      size += piece.length;
      if (chunks.length > 0) await sendBatch(job, batch++, chunks, content);
      if (piece.length > 0) post({ t: "progress", job, bytes: piece.length });
      if (piece.length === 0) break;
    }
    return size;
  } finally {
    tools.chunker.finish();
    spare.push(tools);
    largeRunning--;
    largeWaiting.shift()?.();
  }
}
