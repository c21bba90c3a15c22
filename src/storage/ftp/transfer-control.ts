/**
 * The control side of one transfer (RETR, STOR, LIST, MLSD): the preliminary reply, the final
 * reply, and keep-alive NOOPs while data flows.
 *
 * Long transfers leave the control connection silent; NATs and servers drop it and the final
 * 226 is lost (rclone#5328, basic-ftp#123). So every `keepAlive` seconds a NOOP is sent on the
 * control connection. vsftpd reads it only after the transfer and answers it after the 226;
 * ProFTPD answers it at once; Pure-FTPd refuses it at once (`500 Unknown command`, after which
 * no more are sent on that connection). Either way each NOOP produces exactly one extra reply,
 * which is counted and consumed here before the task ends, so the next command never sees it.
 */
import type { TaskResolver } from "basic-ftp";
import type { Control } from "./control.ts";
import type { StorageError } from "../errors.ts";
import { replyError, translateFtpError, type FtpReply } from "./replies.ts";

/** What a transfer needs from its connection. */
export interface TransferContext {
  readonly control: Control;
  /** Milliseconds without progress before a transfer fails with TIMEOUT (`idleTimeout`). */
  readonly idleMs: number;
  /** Milliseconds between keep-alive NOOPs during a transfer; 0 = off (`keepAlive`). */
  readonly keepAliveMs: number;
  /** Cleared once the server refused a NOOP during a transfer. */
  noopDuringTransfer: boolean;
  /** Gives the connection up: its control stream can no longer be trusted. */
  kill(reason: string): void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Handle on the control side of a running transfer. */
export interface ControlSide {
  /** The first reply: 1xx when the server starts, or the final reply when it refused. */
  readonly started: Promise<FtpReply>;
  /** The final reply (any code), after every keep-alive reply was consumed. */
  readonly final: Promise<FtpReply>;
  /** Starts sending keep-alive NOOPs (call once data flows). */
  startKeepAlive(): void;
  /**
   * We are ending the transfer early (a read that got its `length`, a consumer that gave up):
   * with `sendAbor`, ABOR is sent. Servers answer an abort in different ways — ProFTPD `426` +
   * `226`, vsftpd `426` (+ `225` for ABOR), Pure-FTPd a stray `150 <rate>` line — so after the
   * transfer's last reply a PWD is sent as a barrier and every reply up to its `257` is
   * consumed: the next command always gets its own reply.
   */
  aborted(sendAbor: boolean): void;
  /** Stops the keep-alive timer. */
  stopKeepAlive(): void;
  /** The control socket may idle during data flow (true) or must answer within idleMs (false). */
  quietControl(quiet: boolean): void;
}

/** How long to wait for replies still owed after the final reply (NOOPs, the PWD barrier). */
const OWED_REPLY_MS = 5_000;

/** Sends the transfer command `line` and tracks its replies. */
export function runControlSide(ctx: TransferContext, line: string): ControlSide {
  const started = deferred<FtpReply>();
  const final = deferred<FtpReply>();
  let owedNoops = 0;
  let preliminary = false;
  let abortedByUs = false;
  let barrier = false;
  let finalReply: FtpReply | undefined;
  let keepAlive: NodeJS.Timeout | undefined;
  let owedTimer: NodeJS.Timeout | undefined;

  const finish = (task: TaskResolver) => {
    clearTimeout(owedTimer);
    if (finalReply === undefined) return;
    task.resolve(finalReply);
    final.resolve(finalReply);
  };

  const task = ctx.control.handle<FtpReply>(line, (event, resolver) => {
    if (event instanceof Error) {
      clearInterval(keepAlive);
      clearTimeout(owedTimer);
      started.reject(event);
      final.reject(event);
      resolver.reject(event);
      return;
    }
    if (barrier) {
      if (event.code === 257) finish(resolver);
      return;
    }
    if (event.code < 200 && !(abortedByUs && preliminary)) {
      preliminary = true;
      started.resolve(event);
      return;
    }
    if (owedNoops > 0 && !abortedByUs && isNoopReply(event, finalReply !== undefined)) {
      owedNoops--;
      if (event.code >= 300) {
        ctx.noopDuringTransfer = false;
        ctx.control.note(
          "the server refused NOOP during a transfer; no more keep-alives in transfers",
        );
      }
      if (finalReply !== undefined && owedNoops === 0) finish(resolver);
      return;
    }
    if (finalReply !== undefined) return; // a stray reply after the end: ignore it
    finalReply = event;
    clearInterval(keepAlive);
    started.resolve(event);
    if (owedNoops === 0 && !abortedByUs) {
      finish(resolver);
      return;
    }
    if (abortedByUs) {
      barrier = true;
      ctx.control.sendUntracked("PWD");
    }
    owedTimer = setTimeout(() => {
      ctx.kill(
        barrier
          ? "no reply to PWD after an aborted transfer"
          : `${String(owedNoops)} keep-alive NOOP replies never arrived`,
      );
      finish(resolver);
    }, OWED_REPLY_MS);
  });
  task.catch(() => undefined);

  return {
    started: started.promise,
    final: final.promise,
    startKeepAlive() {
      if (ctx.keepAliveMs <= 0 || keepAlive !== undefined) return;
      keepAlive = setInterval(() => {
        if (!ctx.noopDuringTransfer || finalReply !== undefined || ctx.control.closed) return;
        owedNoops++;
        try {
          ctx.control.sendUntracked("NOOP");
        } catch {
          owedNoops--;
        }
      }, ctx.keepAliveMs);
      keepAlive.unref();
    },
    stopKeepAlive() {
      clearInterval(keepAlive);
    },
    aborted(sendAbor: boolean) {
      if (abortedByUs || finalReply !== undefined || ctx.control.closed) return;
      abortedByUs = true;
      clearInterval(keepAlive);
      if (sendAbor) ctx.control.sendUntracked("ABOR");
    },
    quietControl(quiet: boolean) {
      if (!ctx.control.closed) ctx.control.socket.setTimeout(quiet ? 0 : ctx.idleMs);
    },
  };
}

/**
 * Whether a reply answers one of our NOOPs rather than the transfer: `200` always (no server
 * ends a transfer with 200); a 500-504 refusal or one naming NOOP; anything after the final
 * reply.
 */
function isNoopReply(reply: FtpReply, afterFinal: boolean): boolean {
  if (afterFinal || reply.code === 200) return true;
  // "Command not understood/implemented" can only be about a command sent meanwhile: no
  // transfer ends with 500-504 (Pure-FTPd answers NOOP during a transfer with `500 Unknown command`).
  return (
    (reply.code >= 500 && reply.code <= 504) || (reply.code >= 500 && /noop/i.test(reply.message))
  );
}

/** Calls `onIdle` after `ms` without a restart; stopped while we are the ones holding up data. */
export class IdleTimer {
  #timer: NodeJS.Timeout | undefined;
  readonly #ms: number;
  readonly #onIdle: () => void;

  constructor(ms: number, onIdle: () => void) {
    this.#ms = ms;
    this.#onIdle = onIdle;
  }

  start(): void {
    clearTimeout(this.#timer);
    if (this.#ms > 0) this.#timer = setTimeout(this.#onIdle, this.#ms);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The server's reply explains a failure better than the socket error it caused (a TLS
 * handshake refused with `522 session reuse required`, a `552` during an upload): wait a
 * moment for it.
 */
export async function preferReply(
  side: ControlSide,
  error: unknown,
  what: string,
  key: string,
): Promise<StorageError> {
  const timeout = new Promise<undefined>((resolve) => {
    setTimeout(() => {
      resolve(undefined);
    }, 2_000).unref();
  });
  const reply = await Promise.race([side.final.catch(() => undefined), timeout]);
  if (reply !== undefined && reply.code >= 400) return replyError(reply, what, key);
  return translateFtpError(error, what, key);
}

/** Bytes a `150 Opening BINARY mode data connection for x (1234 bytes).` reply announces. */
export function announcedBytes(message: string): number | undefined {
  const match = /\((\d+) bytes?\)/i.exec(message);
  return match ? Number(match[1]) : undefined;
}
