import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { MemoryServer } from "../adapters/memory.ts";
import { StorageError } from "../errors.ts";
import { FileStorage } from "../file-storage.ts";
import { ConnectionPool } from "../pool.ts";
import { MemoryProtocolLog } from "../protocol-log.ts";
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

  it("resumes a broken download at the byte where it broke", async () => {
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

  it("backs off exponentially with full jitter, capped", () => {
    for (let i = 0; i < 100; i++) {
      assert.ok(backoffDelay(1, 1000, 30_000) <= 1000);
      assert.ok(backoffDelay(4, 1000, 30_000) <= 8000);
      assert.ok(backoffDelay(20, 1000, 30_000) <= 30_000);
    }
  });
});
