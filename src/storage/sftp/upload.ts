/**
 * Pipelined SFTP uploads: several WRITE requests in flight at increasing offsets (one at a time
 * with sequentialWrites). Data requests are not logged one by one: the log gets the transfer and
 * its outcome.
 */
import { type Readable, finished } from "node:stream";
import { StorageError } from "../errors.ts";
import type { SftpSession, TransferTuning } from "./session.ts";

/**
 * Uploads `source` through the open `handle` from offset 0, with up to `tuning.inFlight` WRITE
 * requests outstanding. Resolves with the bytes the server acknowledged; rejects with the first
 * failure (the source is destroyed). The caller closes the handle.
 */
export async function writeAll(
  session: SftpSession,
  handle: Buffer,
  path: string,
  source: Readable,
  tuning: TransferTuning,
): Promise<number> {
  const what = `Writing "${path}"`;
  let position = 0;
  let acknowledged = 0;
  let failure: StorageError | undefined;
  let outstanding = 0;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = undefined;
    if (outstanding === 0 || failure !== undefined) return;
    timer = setTimeout(() => {
      failure ??= session.stalled({ what, path }, session.idleTimeoutMs);
      wake?.();
    }, session.idleTimeoutMs);
  };
  // A function, not an inline test: `failure` is set by callbacks between the awaits.
  const ok = () => failure === undefined;
  const send = (data: Buffer) => {
    const refused = session.check(what, path);
    if (refused) {
      failure ??= refused;
      return;
    }
    const at = position;
    position += data.length;
    outstanding++;
    arm();
    const done = (error: unknown) => {
      outstanding--;
      if (error) failure ??= session.fail(error, { what, path });
      else acknowledged += data.length;
      arm();
      wake?.();
    };
    try {
      session.sftp.write(handle, data, 0, data.length, at, (error) => {
        done(error);
      });
    } catch (error) {
      queueMicrotask(() => {
        done(error);
      });
    }
  };
  /** Waits until fewer than `limit` writes are outstanding (or one failed). */
  const room = async (limit: number) => {
    while (outstanding >= limit && failure === undefined) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  };

  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = (size: number): Buffer => {
    const head = pending[0];
    if (head !== undefined && head.length >= size) {
      // Whole chunks of a large buffer go out without a copy.
      if (head.length === size) pending.shift();
      else pending[0] = head.subarray(size);
      pendingBytes -= size;
      return head.subarray(0, size);
    }
    const out = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const piece = pending[0];
      if (piece === undefined) break;
      const used = Math.min(piece.length, size - filled);
      piece.copy(out, filled, 0, used);
      filled += used;
      if (used === piece.length) pending.shift();
      else pending[0] = piece.subarray(used);
    }
    pendingBytes -= filled;
    return out.subarray(0, filled);
  };

  try {
    session.log.write(
      session.id,
      "*",
      `WRITE ${path}: ${String(tuning.inFlight)} × ${String(tuning.chunkSize)} bytes in flight`,
    );
    for await (const chunk of chunksOf(source)) {
      if (!ok()) break;
      const buffer =
        typeof chunk === "string"
          ? Buffer.from(chunk)
          : Buffer.isBuffer(chunk)
            ? chunk
            : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (buffer.length === 0) continue;
      pending.push(buffer);
      pendingBytes += buffer.length;
      while (pendingBytes >= tuning.chunkSize && ok()) {
        await room(tuning.inFlight);
        if (ok()) send(take(tuning.chunkSize));
      }
    }
    while (pendingBytes > 0 && ok()) {
      await room(tuning.inFlight);
      if (ok()) send(take(Math.min(pendingBytes, tuning.chunkSize)));
    }
    await room(1);
  } catch (error) {
    failure ??=
      error instanceof StorageError
        ? error
        : new StorageError(
            "INVALID",
            `Reading the data to upload to "${path}" failed: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error, key: path, retriable: false },
          );
  } finally {
    clearTimeout(timer);
  }
  if (failure !== undefined) {
    source.destroy();
    session.log.write(session.id, "*", `WRITE ${path} failed after ${String(acknowledged)} bytes`);
    throw failure;
  }
  session.log.write(session.id, "<", `WRITE ${path}: ${String(acknowledged)} bytes acknowledged`);
  return acknowledged;
}

/**
 * The chunks of `source` one at a time, as they were pushed. Readable's own async iterator calls
 * `read()`, which joins everything buffered into one new Buffer: a copy of every byte whenever
 * the source is ahead of the upload, which it is whenever the network is the bottleneck. In
 * flowing mode `read()` hands out the buffered chunks one by one. The source is paused while the
 * consumer works on a chunk, so at most what it buffers by itself is held in memory. Throws the
 * source's error, or a premature-close error when it is destroyed before its end.
 */
async function* chunksOf(source: Readable): AsyncGenerator<Buffer | Uint8Array | string> {
  const queue: (Buffer | Uint8Array | string)[] = [];
  // An object: its fields are set by callbacks between the awaits.
  const end: { reached: boolean; error: Error | undefined } = { reached: false, error: undefined };
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer | Uint8Array | string) => {
    queue.push(chunk);
    source.pause();
    wake?.();
  };
  const stop = finished(source, { writable: false }, (error) => {
    end.reached = true;
    end.error = error ?? undefined;
    wake?.();
  });
  source.on("data", onData);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      if (end.error !== undefined) throw end.error;
      if (end.reached) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        source.resume();
      });
      wake = undefined;
    }
  } finally {
    source.off("data", onData);
    stop();
  }
}
