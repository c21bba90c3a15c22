/**
 * Retry wrapper: a transient failure (isRetriable) is retried on a fresh connection — the pool
 * drops connections that failed that way — with exponential backoff and full jitter, up to
 * `maxRetries` times (0 = unlimited). Permanent failures pass through at once. A download that
 * breaks mid-stream resumes at the byte where it broke; an upload starts again from its body.
 */
import { PassThrough, type Readable } from "node:stream";
import { isRetriable } from "../errors.ts";
import type { ProtocolLog } from "../protocol-log.ts";
import type { Body, ListOptions, ReadOptions, Storage, WriteOptions } from "../storage.ts";

export interface RetryOptions {
  /** Retries after the first attempt; 0 = unlimited. */
  maxRetries: number;
  /** First backoff [1000 ms]; doubles each attempt. */
  baseDelayMs?: number;
  /** Backoff cap [30000 ms]. */
  maxDelayMs?: number;
  log?: ProtocolLog;
  /** Sleep function, replaceable in tests. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/** Backoff before retry number `attempt` (1-based): random in [0, min(cap, base·2^(attempt-1))]. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** (attempt - 1));
}

/**
 * The backoff before the next attempt after `error` on attempt `attempt` (1-based), logged; or
 * undefined when the error is permanent or the retries are used up.
 */
function nextDelay(
  error: unknown,
  attempt: number,
  options: RetryOptions,
  what: string,
): number | undefined {
  const exhausted = options.maxRetries !== 0 && attempt > options.maxRetries;
  if (!isRetriable(error) || exhausted) return undefined;
  const delay = backoffDelay(attempt, options.baseDelayMs ?? 1000, options.maxDelayMs ?? 30_000);
  const of = options.maxRetries === 0 ? "" : ` of ${String(options.maxRetries)}`;
  options.log?.write(
    0,
    "*",
    `${what} failed (${(error as Error).message}); retry ${String(attempt)}${of} in ${String(Math.round(delay))} ms`,
  );
  return delay;
}

/** Runs `task`, retrying transient failures as the options allow. */
export async function retrying<T>(
  options: RetryOptions,
  what: string,
  task: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      const delay = nextDelay(error, attempt, options, what);
      if (delay === undefined) throw error;
      await (options.sleep ?? defaultSleep)(delay);
    }
  }
}

/** Wraps every operation of `storage` in {@link retrying}. */
export function withRetry(storage: Storage, options: RetryOptions): Storage {
  const run = <T>(what: string, task: () => Promise<T>) => retrying(options, what, task);
  return {
    get capabilities() {
      return storage.capabilities;
    },
    stat: (key) => run(`stat "${key}"`, () => storage.stat(key)),
    list: (dir, listOptions) => retryingList(storage, dir, options, listOptions),
    read: (key, readOptions) => resumingRead(storage, key, readOptions ?? {}, options),
    write: (key: string, body: Body, writeOptions?: WriteOptions) =>
      run(`write "${key}"`, () => storage.write(key, body, writeOptions)),
    remove: (key, opts) => run(`remove "${key}"`, () => storage.remove(key, opts)),
    removeDir: (key) => run(`removeDir "${key}"`, () => storage.removeDir(key)),
    rename: (from, to, renameOptions) =>
      run(`rename "${from}"`, () => storage.rename(from, to, renameOptions)),
    mkdir: (key) => run(`mkdir "${key}"`, () => storage.mkdir(key)),
    setMtime: (key, mtime) => run(`setMtime "${key}"`, () => storage.setMtime(key, mtime)),
    freeSpace: () => run("freeSpace", () => storage.freeSpace()),
    info: () => run("info", () => storage.info()),
    close: () => storage.close(),
  };
}

/** A listing that breaks is listed again; entries already yielded are not yielded twice. */
async function* retryingList(
  storage: Storage,
  dir: string,
  options: RetryOptions,
  listOptions?: ListOptions,
) {
  const seen = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    try {
      for await (const entry of storage.list(dir, listOptions)) {
        if (seen.has(entry.name)) continue;
        seen.add(entry.name);
        yield entry;
      }
      return;
    } catch (error) {
      const delay = nextDelay(error, attempt, options, `list "${dir}"`);
      if (delay === undefined) throw error;
      await (options.sleep ?? defaultSleep)(delay);
    }
  }
}

/**
 * A download that fails with a transient error is reopened at the first byte not yet delivered,
 * so the reader sees one unbroken stream.
 */
function resumingRead(
  storage: Storage,
  key: string,
  readOptions: ReadOptions,
  options: RetryOptions,
): Readable {
  const output = new PassThrough({ highWaterMark: 1 << 20 });
  const start = readOptions.offset ?? 0;
  let delivered = 0;
  let attempt = 0;
  const sleep = options.sleep ?? defaultSleep;

  const open = (): void => {
    if (output.destroyed) return; // the reader gave up during the backoff
    const remaining = readOptions.length === undefined ? undefined : readOptions.length - delivered;
    const input = storage.read(key, {
      offset: start + delivered,
      ...(remaining === undefined ? {} : { length: remaining }),
    });
    input.on("data", (chunk: Buffer) => {
      delivered += chunk.length;
      if (!output.write(chunk)) {
        input.pause();
        output.once("drain", () => input.resume());
      }
    });
    input.on("end", () => output.end());
    input.on("error", (error) => {
      attempt++;
      const delay = output.destroyed
        ? undefined
        : nextDelay(error, attempt, options, `read "${key}" after ${String(delivered)} bytes`);
      if (delay === undefined) {
        output.destroy(error);
        return;
      }
      void sleep(delay).then(open);
    });
    output.once("close", () => input.destroy());
  };
  open();
  return output;
}
