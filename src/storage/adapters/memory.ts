/**
 * The memory adapter: a directory tree in this process, shared by every connection of one
 * dialer. For engine tests, and with a fault hook for testing the wrappers (retry, pool) without
 * a network.
 */
import { Readable } from "node:stream";
import { StorageError, type StorageErrorCode } from "../errors.ts";
import { FILESYSTEM_FEATURES, type Dialer, type ProtocolConnection } from "../protocol.ts";
import type { Entry, FreeSpace, ServerInfo } from "../storage.ts";

interface Node {
  type: "file" | "directory";
  data: Buffer;
  mtime: Date;
}

/** An operation name as the fault hook sees it. */
export type MemoryOperation =
  | "dial"
  | "stat"
  | "list"
  | "read"
  | "write"
  | "remove"
  | "removeDir"
  | "rename"
  | "mkdir"
  | "setMtime";

/** Returns an error to fail the operation with, or undefined to let it run. */
export type FaultHook = (operation: MemoryOperation, path: string) => StorageError | undefined;

let nextId = 1;

/** A memory "server": its dialer hands out connections onto one shared tree. */
export class MemoryServer implements Dialer {
  readonly protocol = "memory";
  readonly nodes = new Map<string, Node>([
    ["/", { type: "directory", data: Buffer.alloc(0), mtime: new Date() }],
  ]);
  /** Injected faults; tests set this. */
  fault: FaultHook | undefined;
  /** Bytes reported as available by freeSpace. */
  capacity = 2 ** 40;
  /** Connections dialled so far, and open now. */
  dialled = 0;
  openConnections = 0;
  readonly #root: string;

  constructor(root = "/backup") {
    this.#root = root;
  }

  dial(): Promise<ProtocolConnection> {
    return this.dialAt("");
  }

  /**
   * Dials with the backup directory at `path`: relative to the login directory (the root given
   * to the constructor) or absolute, like the `path` setting of network destinations.
   */
  dialAt(path: string): Promise<ProtocolConnection> {
    const error = this.fault?.("dial", "");
    if (error) return Promise.reject(error);
    this.dialled++;
    this.openConnections++;
    const relative = path.replace(/^\.\/?/, "").replace(/\/+$/, "");
    const root = path.startsWith("/")
      ? path.replace(/\/+$/, "") || "/"
      : relative === ""
        ? this.#root
        : `${this.#root}/${relative}`;
    return Promise.resolve(new MemoryConnection(this, root));
  }

  /** Throws the injected fault for an operation, if any. */
  check(operation: MemoryOperation, path: string): void {
    const error = this.fault?.(operation, path);
    if (error) throw error;
  }

  node(path: string, what: string): Node {
    const node = this.nodes.get(path);
    if (!node) throw failure("NOT_FOUND", `${what} "${path}" failed: it does not exist.`);
    return node;
  }
}

function failure(code: StorageErrorCode, message: string): StorageError {
  return new StorageError(code, message);
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

class MemoryConnection implements ProtocolConnection {
  readonly id = nextId++;
  readonly features = FILESYSTEM_FEATURES;
  readonly root: string;
  readonly #server: MemoryServer;
  #closed = false;

  constructor(server: MemoryServer, root: string) {
    this.#server = server;
    this.root = root;
  }

  /** Runs one operation asynchronously, as a network adapter would, after the fault hook. */
  async #run<T>(operation: MemoryOperation, path: string, body: () => T): Promise<T> {
    await Promise.resolve();
    if (this.#closed) throw failure("CONNECTION", "The connection is closed.");
    this.#server.check(operation, path);
    return body();
  }

  stat(path: string): Promise<Entry> {
    return this.#run("stat", path, () => {
      const node = this.#server.node(path, "Reading the metadata of");
      return {
        name: path.slice(path.lastIndexOf("/") + 1),
        type: node.type,
        size: node.type === "file" ? node.data.length : 0,
        mtime: node.mtime,
      };
    });
  }

  async *list(path: string): AsyncIterable<Entry> {
    const entries = await this.#run("list", path, () => {
      const node = this.#server.node(path, "Listing");
      if (node.type !== "directory") throw failure("NOT_FOUND", `"${path}" is not a directory.`);
      const prefix = path === "/" ? "/" : `${path}/`;
      return [...this.#server.nodes]
        .filter(
          ([key]) =>
            key.startsWith(prefix) && key !== "/" && !key.slice(prefix.length).includes("/"),
        )
        .map(([key, child]) => ({
          name: key.slice(prefix.length),
          type: child.type,
          size: child.type === "file" ? child.data.length : 0,
          mtime: child.mtime,
        }));
    });
    yield* entries;
  }

  read(path: string, offset: number, length?: number): Promise<Readable> {
    return this.#run("read", path, () => {
      const node = this.#server.node(path, "Reading");
      if (node.type !== "file") throw failure("NOT_FOUND", `"${path}" is not a file.`);
      const end = length === undefined ? undefined : offset + length;
      return Readable.from([node.data.subarray(offset, end)]);
    });
  }

  async write(path: string, source: Readable): Promise<number> {
    try {
      await this.#run("write", path, () => this.#server.node(parentOf(path), "Writing into"));
    } catch (error) {
      source.destroy();
      throw error;
    }
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of source) chunks.push(Buffer.from(chunk as Uint8Array));
    } catch (error) {
      throw new StorageError("INVALID", `Writing "${path}" failed: reading the data failed.`, {
        cause: error,
        retriable: false,
      });
    }
    const data = Buffer.concat(chunks);
    const used = [...this.#server.nodes.values()].reduce((sum, node) => sum + node.data.length, 0);
    if (used + data.length > this.#server.capacity) {
      throw failure("NO_SPACE", `Writing "${path}" failed: no space left on the destination.`);
    }
    this.#server.nodes.set(path, { type: "file", data, mtime: new Date() });
    return data.length;
  }

  remove(path: string): Promise<void> {
    return this.#run("remove", path, () => {
      if (this.#server.node(path, "Removing").type !== "file") {
        throw failure("PERMISSION", `Removing "${path}" failed: it is a directory.`);
      }
      this.#server.nodes.delete(path);
    });
  }

  removeDir(path: string): Promise<void> {
    return this.#run("removeDir", path, () => {
      this.#server.node(path, "Removing the directory");
      const prefix = `${path}/`;
      if ([...this.#server.nodes.keys()].some((key) => key.startsWith(prefix))) {
        throw failure("EXISTS", `Removing the directory "${path}" failed: it is not empty.`);
      }
      this.#server.nodes.delete(path);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.#run("rename", from, () => {
      const node = this.#server.node(from, "Renaming");
      this.#server.node(parentOf(to), "Renaming into");
      this.#server.nodes.delete(from);
      this.#server.nodes.set(to, node);
    });
  }

  mkdir(path: string): Promise<void> {
    return this.#run("mkdir", path, () => {
      if (this.#server.nodes.has(path)) {
        throw failure("EXISTS", `Creating "${path}" failed: it already exists.`);
      }
      this.#server.node(parentOf(path), "Creating a directory in");
      this.#server.nodes.set(path, { type: "directory", data: Buffer.alloc(0), mtime: new Date() });
    });
  }

  setMtime(path: string, mtime: Date): Promise<void> {
    return this.#run("setMtime", path, () => {
      this.#server.node(path, "Setting the modification time of").mtime = mtime;
    });
  }

  freeSpace(): Promise<FreeSpace> {
    const used = [...this.#server.nodes.values()].reduce((sum, node) => sum + node.data.length, 0);
    return Promise.resolve({
      available: this.#server.capacity - used,
      total: this.#server.capacity,
      source: "memory",
    });
  }

  info(): ServerInfo {
    return { protocol: "memory", root: this.root };
  }

  alive(): Promise<boolean> {
    return Promise.resolve(!this.#closed);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#server.openConnections--;
    }
    return Promise.resolve();
  }
}
