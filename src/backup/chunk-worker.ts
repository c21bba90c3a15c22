/**
 * Worker thread of the backup pipeline: reads a file, chunks it, hashes each chunk, asks the main
 * thread which chunks are new, then compresses and seals those. The main thread only packs and
 * uploads. Messages are described in chunk-pool.ts.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { parentPort, workerData } from "node:worker_threads";
import { frame } from "../repo/codec.ts";
import { blobId, seal } from "../repo/crypto.ts";
import { Chunker, gearTable } from "../repo/chunker.ts";
import { blobAd } from "../repo/pack.ts";
import type { FromWorker, ToWorker, WorkerInit } from "./chunk-pool.ts";

const READ_SIZE = 4 * 1024 * 1024;
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
    void chunkFile(message.job, message.path);
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

async function chunkFile(job: number, path: string): Promise<void> {
  let handle;
  try {
    // O_NOFOLLOW: the walk saw a regular file; if a symlink replaced it since, do not follow it.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    post({
      t: "fail",
      job,
      code: (error as NodeJS.ErrnoException).code ?? "EIO",
      message: (error as Error).message,
    });
    return;
  }
  let tools: { chunker: Chunker; buffer: Buffer } | undefined;
  try {
    const before = await handle.stat({ bigint: true });
    tools = spare.pop() ?? {
      chunker: new Chunker(gear, init.chunker),
      buffer: Buffer.allocUnsafeSlow(READ_SIZE),
    };
    const { chunker, buffer } = tools;
    const content: string[] = [];
    let size = 0;
    let batch = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, READ_SIZE, null);
      const chunks =
        bytesRead === 0 ? chunker.finish() : chunker.push(buffer.subarray(0, bytesRead));
      size += bytesRead;
      if (chunks.length > 0) await sendBatch(job, batch++, chunks, content);
      if (bytesRead > 0) post({ t: "progress", job, bytes: bytesRead });
      if (bytesRead === 0) break;
    }
    const after = await handle.stat({ bigint: true });
    const changed =
      after.mtimeNs !== before.mtimeNs ||
      after.size !== before.size ||
      (before.isFile() && BigInt(size) !== after.size);
    post({ t: "done", job, content, size, changed });
  } catch (error) {
    post({
      t: "fail",
      job,
      code: (error as NodeJS.ErrnoException).code ?? "EIO",
      message: (error as Error).message,
    });
  } finally {
    if (tools !== undefined) {
      tools.chunker.finish();
      spare.push(tools);
    }
    await handle.close().catch(() => undefined);
  }
}
