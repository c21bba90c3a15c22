/**
 * Uploads (STOR): the source is written to the data connection with backpressure, the data
 * connection is closed cleanly (TLS close_notify, then FIN), and the byte count is returned only
 * after the server's final 2xx. A final 426/451 is a retriable CONNECTION error; `idleTimeout`
 * bounds every wait for the server.
 */
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import type { TLSSocket } from "node:tls";
import { StorageError } from "../errors.ts";
import { openData, type DataContext } from "./data-connection.ts";
import { replyError, translateFtpError } from "./replies.ts";
import {
  preferReply,
  runControlSide,
  type ControlSide,
  type TransferContext,
} from "./transfer-control.ts";

/** A failure of the source stream (not of the server), reported as such. */
class SourceError extends Error {
  override readonly name = "SourceError";
}

type DataSocket = Socket | TLSSocket;

/** Resolves on `event`; rejects on error, on close, or after `idleMs` without it. */
function waitFor(
  socket: DataSocket,
  event: "drain" | "finish",
  idleMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.off(event, onEvent);
      socket.off("error", onError);
      socket.off("close", onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onEvent = () => {
      done();
    };
    const onError = (error: Error) => {
      done(error);
    };
    const onClose = () => {
      done(
        new StorageError(
          "CONNECTION",
          `${what} failed: the server closed the data connection early. It will be retried.`,
        ),
      );
    };
    const timer =
      idleMs > 0
        ? setTimeout(() => {
            done(
              new StorageError(
                "TIMEOUT",
                `${what} stalled: the server accepted no data for ${String(idleMs / 1000)} s. It will be retried; raise idleTimeout if the server is slow.`,
              ),
            );
          }, idleMs)
        : undefined;
    socket.on(event, onEvent);
    socket.on("error", onError);
    socket.on("close", onClose);
  });
}

/** Copies `source` into `socket`, ends it and waits until everything was handed to the OS. */
async function pump(
  source: Readable,
  socket: DataSocket,
  idleMs: number,
  what: string,
): Promise<number> {
  let sent = 0;
  let broken: Error | undefined;
  /** What broke the data connection meanwhile (set from socket events). */
  const failure = (): Error | undefined => broken;
  const onError = (error: Error) => {
    broken ??= error;
  };
  const onClose = () => {
    broken ??= new StorageError(
      "CONNECTION",
      `${what} failed: the server closed the data connection early.`,
    );
  };
  socket.on("error", onError);
  socket.on("close", onClose);
  try {
    const iterator = source[Symbol.asyncIterator]() as AsyncIterator<unknown>;
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (error) {
        throw new SourceError((error as Error).message, { cause: error });
      }
      const early = failure();
      if (early !== undefined) {
        await iterator.return?.();
        throw early;
      }
      if (step.done === true) break;
      const chunk =
        typeof step.value === "string" ? Buffer.from(step.value) : (step.value as Uint8Array);
      sent += chunk.length;
      if (!socket.write(chunk)) await waitFor(socket, "drain", idleMs, what);
    }
    const late = failure();
    if (late !== undefined) throw late;
    if (sent === 0 && "encrypted" in socket) {
      // vsftpd 3.0.3 on a resumed TLS 1.2 session answers "426 Failure reading network stream"
      // to about one empty upload in four when close_notify leaves in the same flight as the
      // handshake's last message: let that flight go out on its own first (measured 23/100
      // failures before, 0/100 after; TLS 1.3 and non-empty uploads are not affected).
      await new Promise((resolve) => setImmediate(resolve));
    }
    const finished = waitFor(socket, "finish", idleMs, what);
    socket.end();
    await finished;
    return sent;
  } finally {
    socket.off("error", onError);
    socket.off("close", onClose);
  }
}

/** Uploads `source` with the (already encoded) command `line`; resolves with the bytes sent. */
export async function upload(
  ctx: TransferContext,
  dataContext: DataContext,
  line: string,
  source: Readable,
  what: string,
  key: string,
): Promise<number> {
  let pending;
  try {
    pending = await openData(dataContext);
  } catch (error) {
    source.destroy();
    throw translateFtpError(error, what, key);
  }
  let side: ControlSide | undefined;
  try {
    side = runControlSide(ctx, line);
    const first = await side.started;
    if (first.code >= 300) throw replyError(first, what, key);
    let socket: DataSocket;
    try {
      socket = await pending.ready();
    } catch (error) {
      throw await preferReply(side, error, what, key);
    }
    side.quietControl(true);
    side.startKeepAlive();
    // A final 4xx/5xx while we still send (`451 Local error`, `452`/`552` disk full) ends the
    // transfer: stop at once rather than push into a data connection the server may no longer
    // read, which would stall until idleTimeout and then give up a connection that is fine.
    const dataSocket = socket;
    side.final.then(
      (reply) => {
        // The pump sees the close; preferReply then reports this reply.
        if (reply.code >= 300) dataSocket.destroy();
      },
      () => undefined,
    );
    let sent: number;
    try {
      sent = await pump(source, socket, ctx.idleMs, what);
    } catch (error) {
      socket.destroy();
      if (error instanceof SourceError) {
        throw new StorageError(
          "PROTOCOL",
          `${what} failed: reading the data to upload failed (${error.message}).`,
          { cause: error.cause, key, retriable: false },
        );
      }
      if (error instanceof StorageError && error.code === "TIMEOUT") {
        // The server stopped taking data: it will not answer either. Give the connection up
        // now rather than wait another idleTimeout for a final reply.
        ctx.kill(`${what} stalled`);
        throw error;
      }
      throw await preferReply(side, error, what, key);
    } finally {
      side.stopKeepAlive();
      side.quietControl(false);
    }
    const final = await side.final;
    if (final.code >= 300) throw replyError(final, what, key);
    return sent;
  } catch (error) {
    source.destroy();
    pending.close();
    // The connection is free only once the server gave its final answer (or the context died).
    if (side !== undefined) await side.final.catch(() => undefined);
    throw translateFtpError(error, what, key);
  } finally {
    pending.close();
  }
}
