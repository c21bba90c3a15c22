import assert from "node:assert/strict";
import { buffer } from "node:stream/consumers";
import { describe, it } from "node:test";
import { MemoryServer } from "../adapters/memory.ts";
import { StorageError } from "../errors.ts";
import { FileStorage } from "../file-storage.ts";
import { ConnectionPool } from "../pool.ts";
import { MemoryProtocolLog, silentLog } from "../protocol-log.ts";
import type { Storage } from "../storage.ts";
import { withOperationLog } from "./op-log.ts";

async function logged(): Promise<{
  storage: Storage;
  log: MemoryProtocolLog;
  server: MemoryServer;
}> {
  const server = new MemoryServer();
  const inner = new FileStorage(
    new ConnectionPool(server, { max: 2, log: silentLog }),
    await server.dial(),
  );
  const log = new MemoryProtocolLog();
  return { storage: withOperationLog(inner, log), log, server };
}

/** The log lines with the variable duration replaced by `N`. */
function lines(log: MemoryProtocolLog): string[] {
  return log.lines.map((line) => line.replace(/\d+ ms$/, "N ms").replace(/, \d+ ms$/, ", N ms"));
}

describe("withOperationLog", () => {
  it("logs each operation with key, bytes and duration on connection 0", async () => {
    const { storage, log } = await logged();
    await storage.mkdir("data");
    await storage.write("data/ab", new Uint8Array(1000));
    await storage.stat("data/ab");
    assert.equal((await buffer(storage.read("data/ab", { offset: 10, length: 90 }))).length, 90);
    const names: string[] = [];
    for await (const entry of storage.list("data")) names.push(entry.name);
    await storage.rename("data/ab", "data/cd");
    await storage.remove("data/cd");
    assert.deepEqual(lines(log), [
      "#0 * mkdir data in N ms",
      "#0 * write data/ab 1000 B in N ms",
      "#0 * stat data/ab 1000 B in N ms",
      "#0 * read data/ab from 10 length 90 90 B in N ms",
      "#0 * list data 1 entries in N ms",
      "#0 * rename data/ab -> data/cd in N ms",
      "#0 * remove data/cd in N ms",
    ]);
  });

  it("logs failures with their error code and passes the error on", async () => {
    const { storage, log, server } = await logged();
    await assert.rejects(storage.stat("x"), { code: "NOT_FOUND" });
    await assert.rejects(buffer(storage.read("missing file")), { code: "NOT_FOUND" });
    server.fault = (operation) =>
      operation === "list"
        ? new StorageError("CONNECTION", "The connection was reset.")
        : undefined;
    await assert.rejects(
      async () => {
        for await (const entry of storage.list(""))
          assert.fail(`no entry expected, got ${entry.name}`);
      },
      { code: "CONNECTION" },
    );
    assert.deepEqual(lines(log), [
      "#0 * stat x failed NOT_FOUND after N ms",
      '#0 * read "missing file" failed NOT_FOUND after N ms',
      '#0 * list "" failed CONNECTION after N ms',
    ]);
  });

  it("logs a read abandoned by its reader", async () => {
    const { storage, log } = await logged();
    await storage.write("big", new Uint8Array(4 << 20));
    log.lines.length = 0;
    const stream = storage.read("big");
    stream.once("data", () => stream.destroy());
    await new Promise((resolve) => stream.once("close", resolve));
    assert.equal(lines(log).length, 1);
    assert.match(log.lines[0] ?? "", /^#0 \* read big abandoned after \d+ B, \d+ ms$/);
  });

  it("adds nothing when the log is the silent one", async () => {
    const server = new MemoryServer();
    const inner = new FileStorage(
      new ConnectionPool(server, { max: 1, log: silentLog }),
      await server.dial(),
    );
    assert.equal(withOperationLog(inner, silentLog), inner);
  });

  it("keeps a key with a line break on one log line", async () => {
    const { storage, log } = await logged();
    await assert.rejects(storage.stat("a\nb"), { code: "INVALID" });
    assert.deepEqual(lines(log), ['#0 * stat "a\\nb" failed INVALID after N ms']);
  });
});
