/**
 * Downloads (RETR, and the listing commands) as a Readable that ends only when both the data
 * connection ended and the server confirmed with its final 2xx. A data connection that drops,
 * a final 4xx/5xx, a missing final reply or fewer bytes than the 150 reply announced ERROR the
 * stream (CONNECTION, retriable): a dropped data connection must never look like end of file.
 */
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import type { TLSSocket } from "node:tls";
import { StorageError } from "../errors.ts";
import { openData, type DataContext } from "./data-connection.ts";
import { replyError, translateFtpError, type FtpReply } from "./replies.ts";
import {
  IdleTimer,
  announcedBytes,
  preferReply,
  runControlSide,
  type ControlSide,
  type TransferContext,
} from "./transfer-control.ts";

export interface DownloadOptions {
  /** Names the action in messages: `Reading "/a/b"`. */
  what: string;
  key: string;
  /** REST offset, sent right before the command [0]. Only where the server honours REST. */
  offset: number;
  /**
   * Bytes to read and drop before the first byte of the stream [0]: the offset of a read where
   * REST cannot be used (`features.rangedRead` false: ASCII mode, or no REST on the server).
   */
  skip?: number;
  /** End the stream after this many bytes and abort the rest of the transfer. */
  limit: number | undefined;
  /** Compare the byte count a `150 … (N bytes)` reply announced (binary file transfers). */
  checkAnnounced: boolean;
  /** End a transfer early with ABOR rather than by closing the data connection (quirk). */
  abortWithAbor: boolean;
  /** Called once, when the control connection is free again. */
  onSettled(): void;
}

export interface Download {
  stream: Readable;
  /** The final reply (resolves after the stream ended; rejects when the transfer failed). */
  final: Promise<FtpReply>;
}

/** Starts a download; resolves once the server started sending (NOT_FOUND etc. reject here). */
export async function startDownload(
  ctx: TransferContext,
  dataContext: DataContext,
  line: string,
  options: DownloadOptions,
): Promise<Download> {
  const { what, key } = options;
  const pending = await openData(dataContext);
  let side: ControlSide | undefined;
  let socket: Socket | TLSSocket;
  let first: FtpReply;
  try {
    if (options.offset > 0) {
      await ctx.control.expect(
        "REST",
        String(options.offset),
        `${what} from byte ${String(options.offset)}`,
        (c) => c === 350,
        key,
      );
    }
    side = runControlSide(ctx, line);
    first = await side.started;
    if (first.code >= 300) throw replyError(first, what, key);
    try {
      socket = await pending.ready();
    } catch (error) {
      throw await preferReply(side, error, what, key);
    }
  } catch (error) {
    pending.close();
    if (side !== undefined) await side.final.catch(() => undefined);
    throw translateFtpError(error, what, key);
  }
  const closeData = () => {
    pending.close();
  };
  return { stream: streamData(ctx, side, socket, first, options, closeData), final: side.final };
}

/** A remainder this small is read to its end rather than aborted: cheaper and always clean. */
const DRAIN_MAX_BYTES = 256 * 1024;
/** After ABOR, the server closes the data connection itself; if it does not, we do. */
const ABORT_GRACE_MS = 3_000;

function streamData(
  ctx: TransferContext,
  side: ControlSide,
  socket: Socket | TLSSocket,
  first: FtpReply,
  options: DownloadOptions,
  closeData: () => void,
): Readable {
  const { what, key, limit } = options;
  const announced = announcedBytes(first.message);
  /** Bytes the data connection delivered, skipped ones included. */
  let wire = 0;
  /** Bytes still to drop before the wanted range starts (`skip`). */
  let toSkip = options.skip ?? 0;
  /** Bytes handed to the stream. */
  let received = 0;
  let dataEnded = false;
  /** All wanted bytes arrived (`length` reached). */
  let cut = false;
  /** The rest of the transfer is being read and dropped instead of aborted. */
  let draining = false;
  /** We ended the transfer early: closes and errors of the data connection are expected. */
  let stopping = false;
  let final: FtpReply | undefined;
  let settled = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const idle = new IdleTimer(ctx.idleMs, () => {
    fail(
      new StorageError(
        "TIMEOUT",
        `${what} stalled: no data for ${String(ctx.idleMs / 1000)} s. It will be retried; raise idleTimeout if the server is slow.`,
        { key },
      ),
    );
    // A stalled server will not answer the abort either: free the connection now.
    ctx.kill(`${what} stalled`);
  });

  const cleanup = () => {
    idle.stop();
    side.stopKeepAlive();
    clearTimeout(graceTimer);
    closeData();
  };
  /** Frees the connection once the server gave its last reply (or the context died). */
  const release = () => {
    side.quietControl(false);
    const settle = () => {
      cleanup();
      options.onSettled();
    };
    side.final.then(settle, settle);
  };
  /**
   * Ends the transfer early. ProFTPD drops the whole session when a TLS data connection breaks
   * under it (`SSL_ERROR_SYSCALL … disconnecting`), so where the quirk says so we send ABOR and
   * keep reading until the server closes the data connection; vsftpd (which reads ABOR only
   * after the transfer) and Pure-FTPd take a plain close with 426.
   */
  const stopData = () => {
    stopping = true;
    side.stopKeepAlive();
    side.quietControl(false);
    socket.resume();
    if (cut && announced !== undefined && announced - wire <= DRAIN_MAX_BYTES) {
      draining = true;
      return;
    }
    idle.stop();
    if (options.abortWithAbor) {
      side.aborted(true);
      graceTimer = setTimeout(closeData, ABORT_GRACE_MS);
    } else {
      side.aborted(false);
      closeData();
    }
  };
  const fail = (error: StorageError) => {
    if (settled) return;
    settled = true;
    stopping = true;
    side.aborted(false);
    cleanup();
    stream.destroy(error);
    release();
  };
  const tryFinish = () => {
    if (settled || final === undefined) return;
    if (!dataEnded && !(cut && !draining)) return;
    const expected = announced === undefined ? undefined : announced - options.offset;
    if (!cut && options.checkAnnounced && expected !== undefined && wire < expected) {
      fail(
        new StorageError(
          "CONNECTION",
          `${what} was cut short: ${String(wire)} bytes received of ${String(expected)} announced. It will be retried.`,
          { key },
        ),
      );
      return;
    }
    settled = true;
    cleanup();
    stream.push(null);
    options.onSettled();
  };

  const stream = new Readable({
    highWaterMark: 1 << 18,
    read() {
      if (settled || dataEnded || stopping) return;
      socket.resume();
      idle.start();
    },
    destroy(error, callback) {
      if (!settled) {
        // The consumer gave up: end the transfer, let the server answer, then free the connection.
        settled = true;
        stopData();
        release();
      }
      callback(error);
    },
  });

  socket.on("data", (chunk: Buffer) => {
    if (draining) idle.start();
    if (settled || stopping) return; // dropped: read only so the server never writes into a closed socket
    idle.start();
    wire += chunk.length;
    let piece = chunk;
    if (toSkip > 0) {
      const dropped = Math.min(toSkip, piece.length);
      toSkip -= dropped;
      piece = piece.subarray(dropped);
    }
    if (limit !== undefined && received + piece.length >= limit) {
      piece = piece.subarray(0, limit - received);
      cut = true;
    }
    received += piece.length;
    const more = piece.length === 0 || stream.push(piece);
    if (cut) {
      stopData();
      tryFinish();
    } else if (!more) {
      socket.pause();
      idle.stop();
    }
  });
  socket.on("end", () => {
    dataEnded = true;
    idle.stop();
    side.quietControl(false);
    tryFinish();
  });
  socket.on("close", (hadError: boolean) => {
    if (!dataEnded && !hadError) {
      // A clean close is end of data, even if 'end' was not seen (a server that closes an
      // empty transfer at once): the final reply and the announced size still judge it.
      dataEnded = true;
      idle.stop();
      tryFinish();
    } else if (!dataEnded && !stopping) {
      fail(
        new StorageError(
          "CONNECTION",
          `${what} failed: the data connection broke after ${String(wire)} bytes, before the transfer was complete. It will be retried.`,
          { key },
        ),
      );
    } else if (draining && !dataEnded) {
      dataEnded = true;
      tryFinish();
    }
  });
  socket.on("error", (error) => {
    if (!stopping) fail(translateFtpError(error, what, key));
  });
  side.final.then(
    (reply) => {
      final = reply;
      if (reply.code >= 300 && !stopping) fail(replyError(reply, what, key));
      else tryFinish();
    },
    (error: unknown) => {
      if (!cut) {
        fail(translateFtpError(error, what, key));
        return;
      }
      // Every wanted byte arrived; only the abort's answer is missing. The stream is complete,
      // the connection is dead (its context closed), and alive() reports it.
      ctx.kill("no reply after aborting a partial read");
      final = { code: 226, message: "226 (assumed after abort)" };
      draining = false;
      tryFinish();
    },
  );
  side.quietControl(true);
  side.startKeepAlive();
  idle.start();
  return stream;
}
