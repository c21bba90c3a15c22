/** The local adapter: a directory on this machine's filesystems. */
import { createReadStream } from "node:fs";
import * as fs from "node:fs/promises";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { fromNodeError, isStorageError } from "../errors.ts";
import { FILESYSTEM_FEATURES, type Dialer, type ProtocolConnection } from "../protocol.ts";
import type { LocalSettings } from "../settings.ts";
import type { Entry, EntryType, FreeSpace, ServerInfo } from "../storage.ts";

let nextId = 1;

/** `path` is resolved against the working directory (the local "login directory"). */
export function createLocalDialer(settings: LocalSettings): Dialer {
  const root = resolve(settings.path === "" ? "." : settings.path);
  return {
    protocol: "local",
    dial: () => Promise.resolve(new LocalConnection(root)),
  };
}

function entryType(stats: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}): EntryType {
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "directory";
  return stats.isSymbolicLink() ? "symlink" : "other";
}

class LocalConnection implements ProtocolConnection {
  readonly id = nextId++;
  readonly features = FILESYSTEM_FEATURES;
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  async stat(path: string): Promise<Entry> {
    const stats = await fs.lstat(path).catch((error: unknown) => {
      throw fromNodeError(error, `Reading the metadata of "${path}"`);
    });
    return {
      name: path.slice(path.lastIndexOf("/") + 1),
      type: entryType(stats),
      size: stats.isFile() ? stats.size : 0,
      mtime: stats.mtime,
    };
  }

  async *list(path: string): AsyncIterable<Entry> {
    const dir = await fs.opendir(path).catch((error: unknown) => {
      throw fromNodeError(error, `Listing "${path}"`);
    });
    for await (const dirent of dir) {
      // An entry removed between readdir and lstat is gone; any other failure is an error,
      // never a silently shorter listing.
      const entry = await this.stat(`${path}/${dirent.name}`).catch((error: unknown) => {
        if (isStorageError(error, "NOT_FOUND")) return undefined;
        throw error;
      });
      if (entry) yield entry;
    }
  }

  read(path: string, offset: number, length?: number): Promise<Readable> {
    return new Promise((resolvePromise, reject) => {
      if (length === 0) {
        fs.access(path).then(
          () => {
            resolvePromise(Readable.from([]));
          },
          (error: unknown) => {
            reject(fromNodeError(error, `Reading "${path}"`));
          },
        );
        return;
      }
      const stream = createReadStream(path, {
        start: offset,
        ...(length === undefined ? {} : { end: offset + length - 1 }),
        highWaterMark: 1 << 20,
      });
      stream.once("open", () => {
        resolvePromise(stream);
      });
      stream.once("error", (error) => {
        reject(fromNodeError(error, `Reading "${path}"`));
      });
    });
  }

  async write(path: string, source: Readable): Promise<number> {
    let bytes = 0;
    try {
      const handle = await fs.open(path, "w", 0o600);
      try {
        for await (const chunk of source as AsyncIterable<Uint8Array>) {
          await handle.write(chunk);
          bytes += chunk.length;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      source.destroy();
      throw fromNodeError(error, `Writing "${path}"`);
    }
    return bytes;
  }

  async remove(path: string): Promise<void> {
    await fs.unlink(path).catch((error: unknown) => {
      throw fromNodeError(error, `Removing "${path}"`);
    });
  }

  async removeDir(path: string): Promise<void> {
    await fs.rmdir(path).catch((error: unknown) => {
      throw fromNodeError(error, `Removing the directory "${path}"`);
    });
  }

  async rename(from: string, to: string): Promise<void> {
    await fs.rename(from, to).catch((error: unknown) => {
      throw fromNodeError(error, `Renaming "${from}" to "${to}"`);
    });
  }

  async mkdir(path: string): Promise<void> {
    await fs.mkdir(path, { mode: 0o700 }).catch((error: unknown) => {
      throw fromNodeError(error, `Creating the directory "${path}"`);
    });
  }

  async setMtime(path: string, mtime: Date): Promise<void> {
    await fs.utimes(path, mtime, mtime).catch((error: unknown) => {
      throw fromNodeError(error, `Setting the modification time of "${path}"`);
    });
  }

  async freeSpace(path: string): Promise<FreeSpace> {
    let probe = path;
    for (;;) {
      try {
        const stats = await fs.statfs(probe);
        return {
          available: stats.bavail * stats.bsize,
          total: stats.blocks * stats.bsize,
          source: "statfs",
        };
      } catch (error) {
        const parent = resolve(probe, "..");
        if (parent === probe) throw fromNodeError(error, `Measuring free space at "${path}"`);
        probe = parent;
      }
    }
  }

  info(): ServerInfo {
    return { protocol: "local", root: this.root };
  }

  alive(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
