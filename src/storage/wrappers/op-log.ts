/**
 * Operation-log wrapper: one `*` line per storage operation in the protocol log, on connection
 * id 0, with the key, the bytes moved, the time taken and the error code on failure:
 * `write data/ab 1048576 B in 12 ms`, `stat x failed NOT_FOUND after 3 ms`. A read is logged
 * when its stream ends, fails or is abandoned; a listing when its iteration finishes.
 */
import { Transform, type Readable, pipeline } from "node:stream";
import { isStorageError } from "../errors.ts";
import { silentLog, type ProtocolLog } from "../protocol-log.ts";
import type { Body, ListOptions, ReadOptions, Storage, WriteOptions } from "../storage.ts";

/** A key as it appears in a log line: quoted when it holds spaces or control characters. */
function shown(key: string): string {
  return key === "" || /[\s\p{Cc}"]/u.test(key) ? JSON.stringify(key) : key;
}

function codeOf(error: unknown): string {
  if (isStorageError(error)) return error.code;
  return error instanceof Error ? error.name : "error";
}

/** Logs every operation of `storage` to `log`; with the silent log it adds nothing at all. */
export function withOperationLog(storage: Storage, log: ProtocolLog): Storage {
  // Nothing would be written: spare reads the extra stream hop.
  if (log === silentLog) return storage;
  const since = (start: number) => String(Math.round(performance.now() - start));
  const done = (start: number, what: string, result = "") => {
    log.write(0, "*", `${what}${result === "" ? "" : ` ${result}`} in ${since(start)} ms`);
  };
  const failed = (start: number, what: string, error: unknown) => {
    log.write(0, "*", `${what} failed ${codeOf(error)} after ${since(start)} ms`);
  };

  /** Runs one operation and logs it; `result` describes what it returned. */
  async function logged<T>(
    what: string,
    task: () => Promise<T>,
    result: (value: T) => string = () => "",
  ): Promise<T> {
    const start = performance.now();
    try {
      const value = await task();
      done(start, what, result(value));
      return value;
    } catch (error) {
      failed(start, what, error);
      throw error;
    }
  }

  async function* list(dir: string, options?: ListOptions) {
    const start = performance.now();
    const what = `list ${shown(dir)}`;
    let entries = 0;
    try {
      for await (const entry of storage.list(dir, options)) {
        entries++;
        yield entry;
      }
      done(start, what, `${String(entries)} entries`);
    } catch (error) {
      failed(start, what, error);
      throw error;
    }
  }

  function read(key: string, options?: ReadOptions): Readable {
    const start = performance.now();
    const range =
      options?.offset === undefined && options?.length === undefined
        ? ""
        : ` from ${String(options.offset ?? 0)}${options.length === undefined ? "" : ` length ${String(options.length)}`}`;
    const what = `read ${shown(key)}${range}`;
    let bytes = 0;
    let logged = false;
    const counter = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    const finish = (line: () => void) => {
      if (logged) return;
      logged = true;
      line();
    };
    counter.once("end", () => {
      finish(() => {
        done(start, what, `${String(bytes)} B`);
      });
    });
    counter.once("error", (error) => {
      finish(() => {
        failed(start, what, error);
      });
    });
    counter.once("close", () => {
      finish(() => {
        log.write(0, "*", `${what} abandoned after ${String(bytes)} B, ${since(start)} ms`);
      });
    });
    // pipeline carries an error of the source to `counter`, and destroys the source when the
    // reader destroys `counter`; the outcome is logged from `counter`'s events above.
    pipeline(storage.read(key, options), counter, () => undefined);
    return counter;
  }

  return {
    get capabilities() {
      return storage.capabilities;
    },
    stat: (key) =>
      logged(
        `stat ${shown(key)}`,
        () => storage.stat(key),
        (entry) => `${String(entry.size)} B`,
      ),
    list,
    read,
    write: (key: string, body: Body, options?: WriteOptions) =>
      logged(
        `write ${shown(key)}`,
        () => storage.write(key, body, options),
        (size) => `${String(size)} B`,
      ),
    remove: (key, options) => logged(`remove ${shown(key)}`, () => storage.remove(key, options)),
    removeDir: (key) => logged(`removeDir ${shown(key)}`, () => storage.removeDir(key)),
    rename: (from, to, options) =>
      logged(`rename ${shown(from)} -> ${shown(to)}`, () => storage.rename(from, to, options)),
    mkdir: (key) => logged(`mkdir ${shown(key)}`, () => storage.mkdir(key)),
    setMtime: (key, mtime) =>
      logged(`setMtime ${shown(key)} ${mtime.toISOString()}`, () => storage.setMtime(key, mtime)),
    freeSpace: () =>
      logged(
        "freeSpace",
        () => storage.freeSpace(),
        (space) => (space === undefined ? "unknown" : `${String(space.available)} B available`),
      ),
    info: () => logged("info", () => storage.info()),
    close: () => logged("close", () => storage.close()),
  };
}
