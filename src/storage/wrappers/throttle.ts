/**
 * Throttle wrapper: caps upload and download bytes per second across ALL transfers of one
 * storage. One token bucket per direction is shared by every parallel connection, so four
 * connections at a 10 MiB/s cap move 10 MiB/s together, not 40. Downloads are throttled on the
 * stream `read` returns; uploads on the body `write` sends (a retried upload is throttled again).
 * Other operations pass through.
 */
import { Readable, Transform, type TransformCallback, pipeline } from "node:stream";
import type { Body, ReadOptions, Storage, WriteOptions } from "../storage.ts";

/** The largest burst a bucket allows, whatever the rate. */
const MAX_BURST = 64 * 1024;

/**
 * A token bucket on the monotonic clock. Tokens may go negative: each `take` reserves its bytes
 * at once and waits for the debt to be repaid, so concurrent callers are served in call order
 * and share the rate fairly chunk by chunk.
 */
export class TokenBucket {
  /** Bytes per second. */
  readonly rate: number;
  /** Bucket size: at most rate/10 or 64 KiB. Chunks larger than this are taken in pieces. */
  readonly burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(rate: number, now: () => number = () => performance.now()) {
    this.rate = rate;
    this.burst = Math.max(1, Math.min(MAX_BURST, Math.floor(rate / 10)));
    this.#now = now;
    this.#tokens = this.burst;
    this.#last = now();
  }

  /** Reserves `bytes` (at most `burst`) and returns how long to wait before sending them, in ms. */
  reserve(bytes: number): number {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.rate;
  }
}

/** A Transform that lets bytes through no faster than `bucket` allows. */
class Throttled extends Transform {
  readonly #bucket: TokenBucket;
  #timer: NodeJS.Timeout | undefined;

  constructor(bucket: TokenBucket) {
    super({ highWaterMark: bucket.burst });
    this.#bucket = bucket;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#send(chunk, 0, done);
  }

  #send(chunk: Buffer, from: number, done: TransformCallback): void {
    let offset = from;
    while (!this.destroyed) {
      if (offset >= chunk.length) {
        done();
        return;
      }
      const piece = chunk.subarray(offset, offset + this.#bucket.burst);
      offset += piece.length;
      const wait = this.#bucket.reserve(piece.length);
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          if (this.destroyed) return;
          this.push(piece);
          this.#send(chunk, offset, done);
        }, wait);
        return;
      }
      this.push(piece);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    callback(error);
  }
}

/** `source` piped through a throttle; errors and early destruction travel both ways. */
function throttled(source: Readable, bucket: TokenBucket): Readable {
  const output = new Throttled(bucket);
  pipeline(source, output, () => {
    // pipeline destroys both streams on failure; the consumer sees the error on `output`.
  });
  return output;
}

function throttledBody(body: Body, bucket: TokenBucket): Body {
  if (body instanceof Uint8Array) {
    return {
      open: () => throttled(Readable.from([body], { objectMode: false }), bucket),
      size: body.length,
    };
  }
  const open = () => throttled(body.open(), bucket);
  return body.size === undefined ? { open } : { open, size: body.size };
}

/**
 * Caps transfer rates in bytes per second; `undefined` (or 0) leaves a direction uncapped.
 * The caps are shared by all transfers through the returned Storage.
 */
export function withThrottle(
  storage: Storage,
  limits: { upload: number | undefined; download: number | undefined },
): Storage {
  const up = limits.upload ? new TokenBucket(limits.upload) : undefined;
  const down = limits.download ? new TokenBucket(limits.download) : undefined;
  return {
    get capabilities() {
      return storage.capabilities;
    },
    stat: (key) => storage.stat(key),
    list: (dir, options) => storage.list(dir, options),
    read: (key: string, options?: ReadOptions) =>
      down ? throttled(storage.read(key, options), down) : storage.read(key, options),
    write: (key: string, body: Body, options?: WriteOptions) =>
      storage.write(key, up ? throttledBody(body, up) : body, options),
    remove: (key, options) => storage.remove(key, options),
    removeDir: (key) => storage.removeDir(key),
    rename: (from, to, options) => storage.rename(from, to, options),
    mkdir: (key) => storage.mkdir(key),
    setMtime: (key, mtime) => storage.setMtime(key, mtime),
    freeSpace: () => storage.freeSpace(),
    info: () => storage.info(),
    close: () => storage.close(),
  };
}
