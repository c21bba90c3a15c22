/**
 * FileStorage's handling of pooled connections for reads: a reader that gives up — at once, while
 * waiting for a connection, or in the middle of a download — must give the connection back.
 * With maxConnections=1 a leaked connection shows as the next operation waiting forever.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { MemoryServer } from "./adapters/memory.ts";
import { FileStorage } from "./file-storage.ts";
import { ConnectionPool } from "./pool.ts";
import type { Dialer, ProtocolConnection } from "./protocol.ts";
import { silentLog } from "./protocol-log.ts";

const CHUNK = 64 * 1024;

/** Rejects when `promise` has not settled within `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} did not complete within ${String(ms)} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `source`'s bytes in 64 KiB pieces, one per macrotask: a download that takes a while. */
async function* slowly(source: Readable): AsyncGenerator<Buffer> {
  for await (const piece of source) {
    const bytes = Buffer.from(piece as Uint8Array);
    for (let at = 0; at < bytes.length; at += CHUNK) {
      await new Promise((resolve) => setImmediate(resolve));
      yield bytes.subarray(at, at + CHUNK);
    }
  }
}

/**
 * `server`'s connections, with every read delivered {@link slowly}. The memory adapter hands a
 * whole range over in one chunk and ends its stream at once, which releases the connection even
 * when the reader has gone: a leak would not show. The transfer streams are recorded in
 * `transfers`.
 */
function slowReads(server: MemoryServer): { dialer: Dialer; transfers: Readable[] } {
  const transfers: Readable[] = [];
  const dialer: Dialer = {
    protocol: server.protocol,
    dial: async () => {
      const connection = await server.dial();
      return new Proxy(connection, {
        get(target, property) {
          if (property === "read") {
            return async (path: string, offset: number, length?: number) => {
              const transfer = Readable.from(slowly(await target.read(path, offset, length)));
              transfers.push(transfer);
              return transfer;
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function"
            ? (value as (...args: unknown[]) => unknown).bind(target)
            : value;
        },
      }) satisfies ProtocolConnection;
    },
  };
  return { dialer, transfers };
}

/** A FileStorage on a dialer onto `server`, with at most one connection. */
async function oneConnection(server: MemoryServer, dialer: Dialer) {
  const pool = new ConnectionPool(dialer, { max: 1, log: silentLog });
  const storage = new FileStorage(pool, await pool.acquire());
  const data = randomBytes(3 * 1024 * 1024);
  await storage.write("obj", data);
  return { pool, storage, data };
}

/**
 * The one connection is free again: the next operation gets it at once, and nothing leaked.
 * `kept`: the read never started a transfer, so its connection went back to the pool for reuse
 * instead of being closed and dialled again (a connection left mid-transfer must be closed).
 */
async function assertReleased(
  server: MemoryServer,
  pool: ConnectionPool,
  storage: FileStorage,
  kept: boolean,
): Promise<void> {
  const dialled = server.dialled;
  await new Promise((resolve) => setImmediate(resolve));
  if (kept) assert.equal(pool.open, 1, "the connection of a read that never started was closed");
  const entry = await within(
    1000,
    "a stat after the abandoned read (is the read's connection still taken?)",
    storage.stat("obj"),
  );
  assert.equal(entry.size, 3 * 1024 * 1024);
  assert.equal(pool.open, 1);
  assert.equal(server.openConnections, 1, "a connection was left open beside the pool's");
  if (kept) assert.equal(server.dialled, dialled, "the stat had to dial a new connection");
}

describe("FileStorage reads and the connection pool", () => {
  it("releases the connection when the reader destroys the stream at once", async () => {
    const server = new MemoryServer();
    const { dialer, transfers } = slowReads(server);
    const { pool, storage } = await oneConnection(server, dialer);
    const stream = storage.read("obj");
    const errors: Error[] = [];
    stream.on("error", (error) => errors.push(error));
    stream.destroy(); // the same tick as read(): before a connection was even asked for
    await once(stream, "close");
    await assertReleased(server, pool, storage, true);
    for (const transfer of transfers) assert.ok(transfer.destroyed, "a transfer was left running");
    assert.deepEqual(errors, []);
    await storage.close();
  });

  it("releases the connection when the reader destroys the stream after the first chunk", async () => {
    const server = new MemoryServer();
    const { dialer, transfers } = slowReads(server);
    const { pool, storage, data } = await oneConnection(server, dialer);
    const stream = storage.read("obj");
    const errors: Error[] = [];
    stream.on("error", (error) => errors.push(error));
    const [first] = (await once(stream, "data")) as [Buffer];
    assert.ok(first.equals(data.subarray(0, first.length)));
    const [transfer] = transfers;
    assert.ok(transfer, "the read opened no transfer");
    assert.ok(!transfer.readableEnded, "the transfer was over before the reader gave up");
    stream.destroy();
    await once(stream, "close");
    await assertReleased(server, pool, storage, false);
    assert.ok(transfer.destroyed, "the abandoned transfer was not stopped");
    assert.deepEqual(errors, []);
    await storage.close();
  });

  it("releases the connection when the reader gives up while waiting for it", async () => {
    const server = new MemoryServer();
    const { dialer } = slowReads(server);
    const { pool, storage, data } = await oneConnection(server, dialer);
    const busy = storage.read("obj"); // takes the one connection
    const waiting = storage.read("obj"); // waits for it
    waiting.on("error", () => undefined);
    waiting.destroy();
    await once(waiting, "close");
    const chunks: Buffer[] = [];
    for await (const chunk of busy) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data));
    await assertReleased(server, pool, storage, true);
    await storage.close();
  });
});
