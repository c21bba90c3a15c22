/**
 * One SFTP channel with the protocol log, time limits and loss tracking around every request.
 * Requests go through {@link SftpSession.request}; bulk READ/WRITE loops (download.ts, upload.ts) call ssh2
 * directly for speed and use {@link SftpSession.check} and {@link SftpSession.fail} instead.
 */
import type { SFTPWrapper } from "ssh2";
import { StorageError } from "../errors.ts";
import type { ProtocolLog } from "../protocol-log.ts";
import { type ErrorContext, sftpStatus, statusName, toStorageError } from "./status.ts";

/** How bulk transfers are shaped on this connection. */
export interface TransferTuning {
  /** Bytes per READ or WRITE request (at most what the server accepts). */
  chunkSize: number;
  /** Requests in flight at once; 1 = sequential. */
  inFlight: number;
}

/** ssh2's callback shape. */
export type Callback<T> = (error: Error | null | undefined, value: T) => void;

export class SftpSession {
  readonly id: number;
  readonly sftp: SFTPWrapper;
  readonly log: ProtocolLog;
  readonly idleTimeoutMs: number;
  readonly #onStall: () => void;
  #lost: StorageError | undefined;

  /** `onStall` tears the connection down when a request got no answer within idleTimeout. */
  constructor(
    id: number,
    sftp: SFTPWrapper,
    log: ProtocolLog,
    idleTimeoutMs: number,
    onStall: () => void,
  ) {
    this.id = id;
    this.sftp = sftp;
    this.log = log;
    this.idleTimeoutMs = idleTimeoutMs;
    this.#onStall = onStall;
  }

  /** Why the connection is unusable, once it is. */
  get lost(): StorageError | undefined {
    return this.#lost;
  }

  /**
   * Records the loss (the first reason wins) so later requests fail at once instead of hanging.
   * `quiet` for a close ferry asked for itself.
   */
  markLost(error: StorageError, quiet = false): void {
    if (this.#lost !== undefined) return;
    this.#lost = error;
    if (!quiet) this.log.write(this.id, "*", `connection lost: ${error.message}`);
  }

  /** Rejects when the connection is already lost (ssh2 would queue the request forever). */
  check(what: string, path?: string): StorageError | undefined {
    if (this.#lost === undefined) return undefined;
    return new StorageError(
      "CONNECTION",
      `${what} failed: the SSH connection was lost before (${this.#lost.message})`,
      { cause: this.#lost, ...(path === undefined ? {} : { key: path }) },
    );
  }

  /** Logs a failed request's status and translates it. */
  fail(error: unknown, context: ErrorContext): StorageError {
    const status = sftpStatus(error);
    const detail = error instanceof Error ? error.message : String(error);
    this.log.write(
      this.id,
      "<",
      status === undefined
        ? `ERROR ${detail}`
        : `STATUS ${statusName(status)} ${JSON.stringify(detail)}`,
    );
    return toStorageError(error, context);
  }

  /** The error of a request that got no answer in time; the connection is given up. */
  stalled(context: ErrorContext, timeoutMs: number): StorageError {
    const error = new StorageError(
      "TIMEOUT",
      `${context.what} got no answer from the server within ${String(timeoutMs / 1000)} s (idleTimeout). The connection is given up; the operation can be retried.`,
      context.path === undefined ? {} : { key: context.path },
    );
    this.log.write(this.id, "*", `no answer within ${String(timeoutMs / 1000)} s`);
    this.markLost(error);
    this.#onStall();
    return error;
  }

  /**
   * Sends one request: logs `> line`, waits at most `timeoutMs` [idleTimeout] for the answer, logs
   * `< reply(value)` or the status, and rejects with a StorageError.
   */
  request<T>(
    line: string,
    context: ErrorContext,
    start: (callback: Callback<T>) => void,
    reply: (value: T) => string = () => "STATUS OK",
    timeoutMs: number = this.idleTimeoutMs,
  ): Promise<T> {
    const refused = this.check(context.what, context.path);
    if (refused) return Promise.reject(refused);
    this.log.write(this.id, ">", line);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(this.stalled(context, timeoutMs));
      }, timeoutMs);
      const callback: Callback<T> = (error, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          reject(this.fail(error, context));
          return;
        }
        this.log.write(this.id, "<", reply(value));
        resolve(value);
      };
      try {
        start(callback);
      } catch (error) {
        // ssh2 throws synchronously when the channel is gone or an extension is missing.
        callback(error as Error, undefined as T);
      }
    });
  }
}
