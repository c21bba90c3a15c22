import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, it } from "node:test";
import { MemoryServer } from "../adapters/memory.ts";
import { StorageError } from "../errors.ts";
import { FileStorage } from "../file-storage.ts";
import { ConnectionPool } from "../pool.ts";
import { MemoryProtocolLog } from "../protocol-log.ts";
import type { ReadOptions, Storage } from "../storage.ts";
import { backoffDelay, retrying, withRetry } from "./retry.ts";

async function memoryStorage(
  server: MemoryServer,
  maxRetries: number,
  log = new MemoryProtocolLog(),
) {
  const pool = new ConnectionPool(server, { max: 2, log });
  const inner = new FileStorage(pool, await pool.acquire());
  return withRetry(inner, { maxRetries, log, sleep: () => Promise.resolve() });
}

/** Fails the first `count` calls of `operation` with `error`. */
function failTimes(
  server: MemoryServer,
  operation: string,
  count: number,
  make: () => StorageError,
) {
  let left = count;
  server.fault = (op) => (op === operation && left-- > 0 ? make() : undefined);
}

/**
 * A Storage holding one object, `data`, whose reads are scripted: read number i (0-based) delivers
 * `breakAfter[i]` bytes of the asked range, then fails with a retriable CONNECTION error; reads
 * beyond the script deliver the whole range. Records the options of every read.
 */
function brokenDownloads(
  data: Buffer,
  breakAfter: number[],
): { storage: Storage; reads: ReadOptions[] } {
  const reads: ReadOptions[] = [];
  const unused = () => Promise.reject(new Error("not used by this test"));
  const storage: Storage = {
    capabilities: {
      maxConnections: 1,
      atomicReplace: true,
      setMtime: false,
      freeSpace: false,
      rangedRead: true,
      readOnly: true,
    },
    stat: unused,
    list: () => ({
      [Symbol.asyncIterator]: () => ({ next: unused }),
    }),
    read: (_key, options = {}) => {
      const attempt = reads.length;
      reads.push({ ...options });
      const offset = options.offset ?? 0;
      const end = options.length === undefined ? data.length : offset + options.length;
      const range = data.subarray(offset, end);
      const cut = breakAfter[attempt];
      const delivered = cut === undefined ? range : range.subarray(0, cut);
      // In chunks of 1000 bytes, each handed over before the next is made: the bytes before
      // the break really reach the reader before the stream fails.
      let at = 0;
      return new Readable({
        read() {
          if (at < delivered.length) {
            const chunk = delivered.subarray(at, at + 1000);
            at += chunk.length;
            this.push(chunk);
          } else if (cut === undefined) {
            this.push(null);
          } else {
            setImmediate(() => {
              this.destroy(
                new StorageError("CONNECTION", `connection reset after ${String(cut)} bytes`),
              );
            });
          }
        },
      });
    },
    write: unused,
    remove: unused,
    removeDir: unused,
    rename: unused,
    mkdir: unused,
    setMtime: unused,
    freeSpace: unused,
    info: unused,
    close: () => Promise.resolve(),
  };
  return { storage, reads };
}

describe("retry wrapper", () => {
  it("retries transient failures on a fresh connection", async () => {
    const server = new MemoryServer();
    const log = new MemoryProtocolLog();
    const storage = await memoryStorage(server, 5, log);
    failTimes(server, "write", 3, () => new StorageError("CONNECTION", "connection reset"));
    await storage.write("a", Buffer.from("hello"));
    assert.equal(server.nodes.get("/backup/a")?.data.toString(), "hello");
    assert.ok(server.dialled >= 2, "a failed connection is not reused");
    assert.equal(log.lines.filter((l) => l.includes("retry")).length, 3);
  });

  it("gives up after maxRetries with the last error", async () => {
    const server = new MemoryServer();
    const storage = await memoryStorage(server, 2);
    failTimes(server, "stat", 10, () => new StorageError("TIMEOUT", "stalled"));
    await assert.rejects(storage.stat(""), /stalled/);
  });

  it("does not retry permanent failures", async () => {
    const server = new MemoryServer();
    const storage = await memoryStorage(server, 5);
    let calls = 0;
    server.fault = (op) =>
      op === "stat" && ++calls > 0 ? new StorageError("PERMISSION", "denied") : undefined;
    await assert.rejects(storage.stat(""), /denied/);
    assert.equal(calls, 1);
  });

  it("retries without bound when maxRetries is 0", async () => {
    let attempts = 0;
    const result = await retrying({ maxRetries: 0, sleep: () => Promise.resolve() }, "x", () => {
      attempts++;
      return attempts < 50
        ? Promise.reject(new StorageError("CONNECTION", "down"))
        : Promise.resolve("up");
    });
    assert.equal(result, "up");
  });

  it("reopens a download whose opening failed", async () => {
    const server = new MemoryServer();
    const storage = await memoryStorage(server, 5);
    const data = randomBytes(100_000);
    await storage.write("obj", data);
    failTimes(server, "read", 2, () => new StorageError("CONNECTION", "reset"));
    const chunks: Buffer[] = [];
    for await (const chunk of storage.read("obj", { offset: 10, length: 5000 }))
      chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data.subarray(10, 5010)));
  });

  it("resumes a broken download at the byte where it broke", async () => {
    const data = randomBytes(20_000);
    // The first read breaks after 1234 bytes, the second after 3500 more.
    const { storage: inner, reads } = brokenDownloads(data, [1234, 3500]);
    const log = new MemoryProtocolLog();
    const storage = withRetry(inner, { maxRetries: 5, log, sleep: () => Promise.resolve() });
    const back = await buffer(storage.read("obj", { offset: 100, length: 10_000 }));
    assert.equal(back.length, 10_000);
    assert.ok(back.equals(data.subarray(100, 10_100)), "the resumed bytes differ");
    assert.deepEqual(reads, [
      { offset: 100, length: 10_000 },
      { offset: 100 + 1234, length: 10_000 - 1234 },
      { offset: 100 + 1234 + 3500, length: 10_000 - 1234 - 3500 },
    ]);
    assert.equal(log.lines.filter((l) => l.includes("retry")).length, 2);
  });

  it("resumes a broken download of the rest of an object without inventing a length", async () => {
    const data = randomBytes(20_000);
    const { storage: inner, reads } = brokenDownloads(data, [5000]);
    const storage = withRetry(inner, { maxRetries: 5, sleep: () => Promise.resolve() });
    const back = await buffer(storage.read("obj", { offset: 300 }));
    assert.ok(back.equals(data.subarray(300)), "the resumed bytes differ");
    assert.deepEqual(reads, [{ offset: 300 }, { offset: 5300 }]);
  });

  it("opens no other read when the reader gives up during the backoff", async () => {
    const data = randomBytes(20_000);
    const { storage: inner, reads } = brokenDownloads(data, [4000]);
    // A sleep that ends when the test says so, and tells when it began.
    const asleep = Promise.withResolvers<undefined>();
    const backoff = Promise.withResolvers<undefined>();
    const sleep = () => {
      asleep.resolve(undefined);
      return backoff.promise;
    };
    const storage = withRetry(inner, { maxRetries: 5, sleep });
    const stream = storage.read("obj");
    let received = 0;
    const failures: Error[] = [];
    stream.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    stream.on("error", (error) => failures.push(error));
    await asleep.promise;
    assert.equal(received, 4000, "the bytes before the break were not delivered");
    stream.destroy();
    await once(stream, "close");
    // The backoff ends after the reader has gone: nothing may be opened for it.
    backoff.resolve(undefined);
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reads.length, 1, "a read was opened for a reader that had gone");
    assert.deepEqual(failures, []);
  });

  it("backs off exponentially with full jitter, capped", () => {
    for (let i = 0; i < 100; i++) {
      assert.ok(backoffDelay(1, 1000, 30_000) <= 1000);
      assert.ok(backoffDelay(4, 1000, 30_000) <= 8000);
      assert.ok(backoffDelay(20, 1000, 30_000) <= 30_000);
    }
  });
});
