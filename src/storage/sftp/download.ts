/**
 * Pipelined SFTP downloads. One READ per round trip would cap a transfer at chunk / RTT, so
 * several requests are kept in flight at increasing offsets (as OpenSSH's sftp does). READs are
 * not logged one by one: the log gets the transfer and its outcome.
 */
import { Readable } from "node:stream";
import type { SftpSession, TransferTuning } from "./session.ts";

interface Slot {
  position: number;
  length: number;
  done: boolean;
  error?: unknown;
  data?: Buffer;
}

/**
 * A download from `handle`: bytes [offset, end) in order, ending early at the end of the file.
 * Errors (TIMEOUT after idleTimeout without an answer, CONNECTION when the session drops)
 * destroy the stream. The handle is closed when the stream ends or is destroyed.
 */
export class SftpReadStream extends Readable {
  readonly #session: SftpSession;
  readonly #handle: Buffer;
  readonly #path: string;
  readonly #end: number;
  readonly #tuning: TransferTuning;
  readonly #queue: Slot[] = [];
  #next: number;
  #received = 0;
  #eof = false;
  #wanted = true;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    session: SftpSession,
    handle: Buffer,
    path: string,
    offset: number,
    length: number | undefined,
    tuning: TransferTuning,
  ) {
    super({ highWaterMark: tuning.chunkSize * tuning.inFlight });
    this.#session = session;
    this.#handle = handle;
    this.#path = path;
    this.#next = offset;
    this.#end = length === undefined ? Number.POSITIVE_INFINITY : offset + length;
    this.#tuning = tuning;
  }

  override _read(): void {
    this.#wanted = true;
    this.#fill();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stop();
    if (error) {
      this.#session.log.write(
        this.#session.id,
        "*",
        `download of ${this.#path} failed after ${String(this.#received)} bytes`,
      );
    } else if (!this.#eof) {
      this.#session.log.write(
        this.#session.id,
        "*",
        `download of ${this.#path} abandoned after ${String(this.#received)} bytes`,
      );
    }
    callback(error);
  }

  /** Issues requests until the window is full, the range is covered or the consumer is full. */
  #fill(): void {
    while (
      this.#wanted &&
      !this.#eof &&
      !this.destroyed &&
      this.#queue.length < this.#tuning.inFlight &&
      this.#next < this.#end
    ) {
      const length = Math.min(this.#tuning.chunkSize, this.#end - this.#next);
      this.#issue({ position: this.#next, length, done: false }, false);
      this.#next += length;
    }
    if (!this.#eof && this.#queue.length === 0 && this.#next >= this.#end) this.#finish();
  }

  #issue(slot: Slot, first: boolean): void {
    const refused = this.#session.check(`Reading "${this.#path}"`, this.#path);
    if (refused) {
      this.destroy(refused);
      return;
    }
    if (first) this.#queue.unshift(slot);
    else this.#queue.push(slot);
    this.#arm();
    try {
      this.#session.sftp.read(
        this.#handle,
        Buffer.allocUnsafe(slot.length),
        0,
        slot.length,
        slot.position,
        (error, bytes, data) => {
          slot.done = true;
          if (error) slot.error = error;
          else slot.data = data.subarray(0, bytes);
          this.#drain();
        },
      );
    } catch (error) {
      slot.done = true;
      slot.error = error;
      queueMicrotask(() => {
        this.#drain();
      });
    }
  }

  /** Delivers answered requests in file order. */
  #drain(): void {
    if (this.destroyed || this.#eof) return;
    this.#arm();
    for (let head = this.#queue[0]; head?.done; head = this.#queue[0]) {
      this.#queue.shift();
      if (head.error !== undefined) {
        this.destroy(
          this.#session.fail(head.error, { what: `Reading "${this.#path}"`, path: this.#path }),
        );
        return;
      }
      const data = head.data ?? Buffer.alloc(0);
      if (data.length === 0) {
        this.#finish(); // end of file before the requested end: a short object, not an error
        return;
      }
      this.#received += data.length;
      if (data.length < head.length) {
        // Servers may answer less than asked without being at the end: ask for the rest.
        this.#issue(
          { position: head.position + data.length, length: head.length - data.length, done: false },
          true,
        );
      }
      if (!this.push(data)) this.#wanted = false;
    }
    this.#fill();
  }

  #finish(): void {
    if (this.#eof) return;
    this.#eof = true;
    this.#queue.length = 0;
    this.#session.log.write(this.#session.id, "<", `DATA ${String(this.#received)} bytes, done`);
    this.#stop();
    this.push(null);
  }

  /** idleTimeout runs while requests are outstanding; every answer restarts it. */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0 || this.#eof) return;
    const timeoutMs = this.#session.idleTimeoutMs;
    this.#timer = setTimeout(() => {
      this.destroy(
        this.#session.stalled({ what: `Reading "${this.#path}"`, path: this.#path }, timeoutMs),
      );
    }, timeoutMs);
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    this.#closed = true;
    if (this.#session.lost !== undefined) return;
    const session = this.#session;
    void session
      .request(
        `CLOSE ${this.#path}`,
        { what: `Closing "${this.#path}"`, path: this.#path },
        (callback) => {
          session.sftp.close(this.#handle, (error) => {
            callback(error, undefined);
          });
        },
      )
      .catch(() => undefined);
  }
}
