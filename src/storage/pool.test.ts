import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryServer } from "./adapters/memory.ts";
import { StorageError } from "./errors.ts";
import { ConnectionPool } from "./pool.ts";
import { MemoryProtocolLog } from "./protocol-log.ts";

const limitError = () => new StorageError("LIMIT", "421 Too many connections");

describe("ConnectionPool", () => {
  it("reuses idle connections instead of dialling", async () => {
    const server = new MemoryServer();
    const pool = new ConnectionPool(server, { max: 4, log: new MemoryProtocolLog() });
    for (let i = 0; i < 10; i++) await pool.use((c) => c.stat("/"));
    assert.equal(server.dialled, 1);
    await pool.close();
    assert.equal(server.openConnections, 0);
  });

  it("never opens more than max connections", async () => {
    const server = new MemoryServer();
    const pool = new ConnectionPool(server, { max: 3, log: new MemoryProtocolLog() });
    let busy = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        pool.use(async (c) => {
          peak = Math.max(peak, ++busy);
          await new Promise((r) => setTimeout(r, 5));
          busy--;
          return c.stat("/");
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.equal(server.dialled, 3);
    await pool.close();
  });

  it("lowers its limit on LIMIT instead of failing, and logs it", async () => {
    const server = new MemoryServer();
    const log = new MemoryProtocolLog();
    server.fault = (operation) =>
      operation === "dial" && server.openConnections >= 2 ? limitError() : undefined;
    const pool = new ConnectionPool(server, { max: 8, log });
    await Promise.all(
      Array.from({ length: 30 }, () =>
        pool.use(async (c) => {
          await new Promise((r) => setTimeout(r, 2));
          return c.stat("/");
        }),
      ),
    );
    assert.equal(pool.limit, 2);
    assert.match(log.lines.join("\n"), /using at most 2/);
    await pool.close();
  });

  it("passes LIMIT on when no connection is open at all", async () => {
    const server = new MemoryServer();
    server.fault = (operation) => (operation === "dial" ? limitError() : undefined);
    const pool = new ConnectionPool(server, { max: 4, log: new MemoryProtocolLog() });
    await assert.rejects(pool.acquire(), /Too many connections/);
  });

  it("redials an idle connection that is dead", async () => {
    const server = new MemoryServer();
    const pool = new ConnectionPool(server, {
      max: 1,
      checkAfterMs: 0,
      log: new MemoryProtocolLog(),
    });
    const first = await pool.acquire();
    pool.release(first, false);
    await first.close();
    const second = await pool.acquire();
    assert.notEqual(second.id, first.id);
    assert.equal(server.dialled, 2);
    pool.release(second, false);
    await pool.close();
  });

  it("drops a connection that failed in a retriable way", async () => {
    const server = new MemoryServer();
    const pool = new ConnectionPool(server, { max: 1, log: new MemoryProtocolLog() });
    await assert.rejects(
      pool.use(() => Promise.reject(new StorageError("CONNECTION", "reset"))),
      /reset/,
    );
    await pool.use((c) => c.stat("/"));
    assert.equal(server.dialled, 2);
    await pool.close();
  });
});
