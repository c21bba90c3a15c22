/**
 * The shared tier for file-like protocols (local, memory, FTP, SFTP): maps keys to protocol
 * paths under the backup directory, makes writes atomic (temporary name, verified size, rename),
 * creates directories recursively and hides temporary objects from listings. Protocol adapters
 * stay thin; everything here is the same for every protocol.
 */
import { PassThrough, Readable } from "node:stream";
import { StorageError, isRetriable, isStorageError } from "./errors.ts";
import { checkKey, isTempName, keyPath, parentPath, tempKeyPath, tempPath } from "./keys.ts";
import type { ConnectionPool } from "./pool.ts";
import type { ProtocolConnection, ProtocolFeatures } from "./protocol.ts";
import type {
  Body,
  Capabilities,
  Entry,
  FreeSpace,
  ListOptions,
  ReadOptions,
  RemoveOptions,
  ServerInfo,
  Storage,
  WriteOptions,
} from "./storage.ts";

export class FileStorage implements Storage {
  readonly #pool: ConnectionPool;
  readonly #root: string;
  readonly #features: ProtocolFeatures;
  readonly #info: ServerInfo;
  /** Directories known to exist, so repeated writes into one directory cost no MKD. */
  readonly #knownDirs = new Set<string>();

  /** `first` is a connection already dialled (it tells the root and features); it is released. */
  constructor(pool: ConnectionPool, first: ProtocolConnection) {
    this.#pool = pool;
    this.#root = first.root;
    this.#features = first.features;
    this.#info = first.info();
    pool.release(first, false);
  }

  get capabilities(): Capabilities {
    return {
      maxConnections: this.#pool.limit,
      atomicReplace: this.#features.atomicReplace,
      setMtime: this.#features.setMtime,
      freeSpace: this.#features.freeSpace,
      rangedRead: this.#features.rangedRead,
      readOnly: false,
      ...(this.#features.listLimit === undefined ? {} : { listLimit: this.#features.listLimit }),
    };
  }

  async stat(key: string): Promise<Entry> {
    const path = keyPath(this.#root, key);
    return this.#pool.use(async (connection) => ({
      ...(await connection.stat(path)),
      name: key,
    }));
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    const path = keyPath(this.#root, dir);
    const connection = await this.#pool.acquire();
    let broken = false;
    try {
      for await (const entry of connection.list(path)) {
        if (entry.name === "." || entry.name === "..") continue;
        if (isTempName(entry.name)) {
          if (options.temporary === true) yield { ...entry, temporary: true };
          continue;
        }
        yield entry;
      }
    } catch (error) {
      broken = isRetriable(error);
      throw error;
    } finally {
      this.#pool.release(connection, broken);
    }
  }

  read(key: string, options: ReadOptions = {}): Readable {
    const output = new PassThrough({ highWaterMark: 1 << 20 });
    this.#pipeRead(key, options, output).catch((error: unknown) => {
      output.destroy(error as Error);
    });
    return output;
  }

  /**
   * Feeds `output` from a pooled connection. The connection goes back to the pool when the
   * download ends, fails, or the reader destroys `output` — at any point, even before the
   * download has started.
   */
  async #pipeRead(key: string, options: ReadOptions, output: PassThrough): Promise<void> {
    const path = keyPath(this.#root, key);
    checkRange(key, options);
    const connection = await this.#pool.acquire();
    let released = false;
    const release = (broken: boolean) => {
      if (released) return;
      released = true;
      this.#pool.release(connection, broken);
    };
    // A function, not a property read: the reader may give up during any await below.
    const abandoned = () => output.destroyed;
    if (abandoned()) {
      release(false);
      return;
    }
    let input: Readable;
    try {
      input = await connection.read(path, options.offset ?? 0, options.length);
    } catch (error) {
      release(isRetriable(error));
      throw error;
    }
    if (abandoned()) {
      // Abandoned while the transfer was opening: the connection is mid-transfer, drop it.
      input.destroy();
      release(true);
      return;
    }
    input.on("error", (error) => {
      release(true);
      output.destroy(error);
    });
    input.on("end", () => {
      release(false);
    });
    output.on("close", () => {
      if (!input.readableEnded) {
        input.destroy();
        release(true);
      }
    });
    input.pipe(output);
  }

  async write(key: string, body: Body, options: WriteOptions = {}): Promise<number> {
    checkKey(key);
    if (key === "") {
      throw new StorageError("INVALID", "Cannot write to the backup directory itself.");
    }
    const path = keyPath(this.#root, key);
    await this.#ensureDir(parentPath(path));
    const expected = body instanceof Uint8Array ? body.length : body.size;
    return this.#pool.use(async (connection) => {
      if (options.overwrite === false && (await exists(connection, path))) {
        throw new StorageError("EXISTS", `Writing "${key}" failed: it already exists.`, { key });
      }
      const temp = tempPath(path);
      try {
        const sent = await connection.write(temp, openBody(body, key));
        if (expected !== undefined && sent !== expected) {
          throw new StorageError(
            "INVALID",
            `Writing "${key}" failed: the data to upload was ${String(sent)} bytes, but ${String(expected)} were announced.`,
            { key, retriable: false },
          );
        }
        const stored = (await connection.stat(temp)).size;
        if (stored !== sent) {
          throw new StorageError(
            "PROTOCOL",
            `Uploading "${key}" was cut short: ${String(stored)} bytes stored of ${String(sent)}. The data connection was probably dropped; the upload will be retried.`,
            { key, retriable: true },
          );
        }
        await this.#replace(connection, temp, path);
        if (options.mtime && this.#features.setMtime) {
          await connection.setMtime(path, options.mtime);
        }
        return stored;
      } catch (error) {
        await connection.remove(temp).catch((cleanup: unknown) => {
          if (!isStorageError(cleanup, "NOT_FOUND")) this.#removeLater(temp);
        });
        throw error;
      }
    });
  }

  /**
   * Removes a temporary object on a fresh connection, in the background: the connection that
   * failed is usually dead. Best effort; a leftover is hidden from listings.
   */
  #removeLater(path: string): void {
    this.#pool.use((connection) => connection.remove(path)).catch(() => undefined);
  }

  async remove(key: string, options: RemoveOptions = {}): Promise<void> {
    const path =
      options.temporary === true ? tempKeyPath(this.#root, key) : keyPath(this.#root, key);
    return this.#pool.use((connection) => connection.remove(path));
  }

  async removeDir(key: string): Promise<void> {
    const path = keyPath(this.#root, key);
    this.#knownDirs.delete(path);
    return this.#pool.use((connection) => connection.removeDir(path));
  }

  async rename(from: string, to: string, options: { overwrite?: boolean } = {}): Promise<void> {
    const source = keyPath(this.#root, from);
    const target = keyPath(this.#root, to);
    return this.#pool.use(async (connection) => {
      if (options.overwrite === false && (await exists(connection, target))) {
        throw new StorageError("EXISTS", `Renaming to "${to}" failed: it already exists.`, {
          key: to,
        });
      }
      await this.#ensureDirOn(connection, parentPath(target));
      await this.#replace(connection, source, target);
    });
  }

  async mkdir(key: string): Promise<void> {
    await this.#ensureDir(keyPath(this.#root, key));
  }

  async setMtime(key: string, mtime: Date): Promise<void> {
    const path = keyPath(this.#root, key);
    if (!this.#features.setMtime) {
      throw new StorageError("UNSUPPORTED", "This server offers no way to set modification times.");
    }
    return this.#pool.use((connection) => connection.setMtime(path, mtime));
  }

  freeSpace(): Promise<FreeSpace | undefined> {
    return this.#pool.use((connection) => connection.freeSpace(this.#root));
  }

  info(): Promise<ServerInfo> {
    return Promise.resolve({ ...this.#info, root: this.#root });
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  /** rename onto `target`, replacing it: atomically where the server can, else remove first. */
  async #replace(connection: ProtocolConnection, from: string, target: string): Promise<void> {
    try {
      await connection.rename(from, target);
    } catch (error) {
      if (this.#features.atomicReplace || !(await exists(connection, target))) throw error;
      await connection.remove(target);
      await connection.rename(from, target);
    }
  }

  #ensureDir(path: string): Promise<void> {
    if (this.#knownDirs.has(path)) return Promise.resolve();
    return this.#pool.use((connection) => this.#ensureDirOn(connection, path));
  }

  /** mkdir -p: try the directory, make the parent on NOT_FOUND, accept an existing directory. */
  async #ensureDirOn(connection: ProtocolConnection, path: string): Promise<void> {
    if (this.#knownDirs.has(path) || path === "/" || path === ".") return;
    try {
      await connection.mkdir(path);
    } catch (error) {
      if (isStorageError(error, "NOT_FOUND")) {
        await this.#ensureDirOn(connection, parentPath(path));
        await connection.mkdir(path).catch(async (again: unknown) => {
          if (!(await isDirectory(connection, path))) throw again;
        });
      } else if (!(await isDirectory(connection, path))) {
        throw error;
      }
    }
    this.#knownDirs.add(path);
  }
}

/** Refuses negative or fractional offsets and lengths before anything is sent. */
function checkRange(key: string, options: ReadOptions): void {
  for (const [name, value] of [
    ["offset", options.offset],
    ["length", options.length],
  ] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new StorageError(
        "INVALID",
        `Reading "${key}" failed: ${name} must be a whole number of bytes, 0 or more (got ${String(value)}).`,
        { key },
      );
    }
  }
}

/** The body as a stream; a body that cannot be opened is the caller's error, not the server's. */
function openBody(body: Body, key: string): Readable {
  if (body instanceof Uint8Array) return Readable.from([body]);
  try {
    return body.open();
  } catch (error) {
    throw new StorageError(
      "INVALID",
      `Writing "${key}" failed: the data to upload could not be opened (${error instanceof Error ? error.message : String(error)}).`,
      { key, cause: error, retriable: false },
    );
  }
}

async function exists(connection: ProtocolConnection, path: string): Promise<boolean> {
  try {
    await connection.stat(path);
    return true;
  } catch (error) {
    if (isStorageError(error, "NOT_FOUND")) return false;
    throw error;
  }
}

async function isDirectory(connection: ProtocolConnection, path: string): Promise<boolean> {
  try {
    return (await connection.stat(path)).type === "directory";
  } catch (error) {
    // Only "not there" answers the question; a dropped connection must surface as itself (and
    // be retried), not as the EXISTS of the mkdir that asked.
    if (isStorageError(error, "NOT_FOUND")) return false;
    throw error;
  }
}
