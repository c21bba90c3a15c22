/**
 * Network faults against real servers: the fault proxy (test/fault-proxy.ts) sits between the
 * real FTP/SFTP adapters and real vsftpd/OpenSSH from the harness (test/servers/harness.ts).
 *
 * (a) A cut during an upload is retried and leaves nothing or the complete object under the
 *     final name, never a partial one (checked through a second storage that bypasses the
 *     proxy, and on the server's disk, where no temporary object may be left either).
 * (b) A stall times out within idleTimeout (2 s here) and the operation is retried to the end.
 * (c) vsftpd with max_per_ip=2 still takes a 200-object upload at maxConnections=8, and the
 *     storage lowers its connection count.
 *
 * A server that cannot run here fails the test when CI is set and skips it (with the reason)
 * otherwise.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it, type TestContext } from "node:test";
import { isStorageError } from "../src/storage/errors.ts";
import { isTempName } from "../src/storage/keys.ts";
import { openStorage } from "../src/storage/open.ts";
import type { Direction, ProtocolLog } from "../src/storage/protocol-log.ts";
import { parseSettings } from "../src/storage/settings.ts";
import type { Storage } from "../src/storage/storage.ts";
import { startFaultProxy, type Fault, type FaultProxy } from "./fault-proxy.ts";
import {
  startServer,
  unavailableReason,
  type RunningServer,
  type ServerKind,
} from "./servers/harness.ts";

const MiB = 1024 * 1024;
const IDLE_TIMEOUT_S = 2;
const RETRY = { baseDelayMs: 50, maxDelayMs: 200 };
/** Each test's own budget: a hung transfer must fail the test, not the whole run. */
const TEST_TIMEOUT = { timeout: 60_000 };
/**
 * A failed attempt's temporary object is removed on a fresh connection, in the background
 * (the failed connection is usually dead): it may outlive the write's promise by this much.
 */
const CLEANUP_S = 5;

/** A protocol log that keeps each line with its time, to measure how long a stall lasted. */
class TimedLog implements ProtocolLog {
  readonly lines: { at: number; connection: number; direction: Direction; line: string }[] = [];
  write(connection: number, direction: Direction, line: string): void {
    this.lines.push({ at: performance.now(), connection, direction, line });
  }
  addSecret(): void {
    // The test servers' passwords are throwaway.
  }
  /** Retry notes written by the retry wrapper. */
  retries(): { at: number; line: string }[] {
    return this.lines.filter((l) => l.connection === 0 && /; retry \d+/.test(l.line));
  }
  dump(): string {
    return this.lines.map((l) => `#${String(l.connection)} ${l.direction} ${l.line}`).join("\n");
  }
}

/**
 * One real server for a describe block; `server` stays undefined when it cannot run here, and
 * `need(t)` then fails (CI) or skips the test with the reason.
 */
function realServer(kind: ServerKind) {
  const state: { server: RunningServer | undefined; reason: string | undefined; told: boolean } = {
    server: undefined,
    reason: undefined,
    told: false,
  };
  before(async () => {
    state.reason = await unavailableReason(kind);
    if (state.reason === undefined) state.server = await startServer(kind);
  });
  after(async () => {
    await state.server?.stop();
  });
  return {
    need(t: TestContext): RunningServer | undefined {
      if (state.server) return state.server;
      const reason = state.reason ?? "it did not start";
      if (process.env.CI) assert.fail(`${kind} test server is unavailable in CI: ${reason}`);
      if (!state.told) console.log(`# skipped: ${kind} test server is unavailable: ${reason}`);
      state.told = true;
      t.skip(`${kind} unavailable: ${reason}`);
      return undefined;
    },
  };
}

let nextDir = 1;

/** Settings for `server`, reached at `port` (the proxy's, or the server's own). */
function settingsFor(
  server: RunningServer,
  port: number,
  path: string,
  extra: Record<string, unknown> = {},
) {
  const user = server.users.password;
  const common = {
    host: server.host,
    port,
    user: user.name,
    password: user.password,
    path,
    idleTimeout: IDLE_TIMEOUT_S,
    connectTimeout: 10,
    maxRetries: 5,
    maxConnections: 2,
    ...extra,
  };
  return server.kind === "openssh"
    ? parseSettings({
        type: "sftp",
        auth: "password",
        hostKeyTrust: "fingerprint",
        hostKey: server.hostKeyFingerprint,
        ...common,
      })
    : parseSettings({ type: "ftp", tls: "none", ...common });
}

interface Rig {
  /** Through the proxy, with the test's log. */
  storage: Storage;
  /** Straight to the server: the independent witness. */
  clean: Storage;
  log: TimedLog;
  /** The backup directory on the server's disk. */
  disk: string;
  close(): Promise<void>;
}

async function rig(
  server: RunningServer,
  proxy: FaultProxy,
  extra: Record<string, unknown> = {},
): Promise<Rig> {
  const path = `faults-${String(nextDir++)}`;
  const log = new TimedLog();
  const storage = await openStorage(settingsFor(server, proxy.port, path, extra), {
    log,
    retry: RETRY,
  });
  const clean = await openStorage(settingsFor(server, server.port, path), { retry: RETRY });
  return {
    storage,
    clean,
    log,
    disk: join(server.users.password.home, path),
    close: async () => {
      await storage.close();
      await clean.close();
    },
  };
}

/** The object under `key` is exactly `data`, seen from the clean storage. */
async function assertComplete(clean: Storage, key: string, data: Buffer): Promise<void> {
  const entry = await clean.stat(key);
  assert.equal(entry.type, "file");
  assert.equal(
    entry.size,
    data.length,
    `"${key}" holds ${String(entry.size)} bytes, not ${String(data.length)}`,
  );
  const back = await buffer(clean.read(key));
  assert.ok(back.equals(data), `"${key}" holds other bytes than were written`);
}

/** Nothing under `key`, seen from the clean storage. */
async function assertAbsent(clean: Storage, key: string): Promise<void> {
  await assert.rejects(clean.stat(key), (error: unknown) => isStorageError(error, "NOT_FOUND"));
}

async function names(storage: Storage, dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of storage.list(dir)) found.push(entry.name);
  return found.sort();
}

/**
 * Temporary upload names left in a directory on the server's disk. A directory that is not there
 * fails the test: a wrong path must not pass for "no temporary objects".
 */
async function tempsOnDisk(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => isTempName(name));
}

/**
 * No temporary upload is left in `dir` on the server's disk, `waitS` seconds after the call at
 * the latest (0: at once).
 */
async function assertNoTempsOnDisk(dir: string, waitS: number): Promise<void> {
  const deadline = performance.now() + waitS * 1000;
  let left = await tempsOnDisk(dir);
  while (left.length > 0 && performance.now() < deadline) {
    await sleep(100);
    left = await tempsOnDisk(dir);
  }
  assert.deepEqual(
    left,
    [],
    `temporary objects left in ${dir} on the server's disk (hidden from list) after ${String(waitS)} s`,
  );
}

/** How long after the stall the retry wrapper gave up on the attempt, in seconds. */
function stallSeconds(proxy: FaultProxy, fault: Fault, log: TimedLog): number {
  const [struck] = proxy.struckAt(fault);
  assert.ok(struck !== undefined, "the stall never happened");
  const retry = log.retries().find((r) => r.at >= struck);
  assert.ok(retry, `no retry after the stall; log:\n${log.dump()}`);
  assert.match(retry.line, /stalled|answer|time|TIMEOUT/i, retry.line);
  return (retry.at - struck) / 1000;
}

/** (a) and (b) for one server kind; `on` aims faults at FTP data connections. */
function faultSuite(kind: "vsftpd" | "openssh") {
  const real = realServer(kind);
  const ftp = kind === "vsftpd";
  const on = ftp ? "data" : "any";
  let proxy: FaultProxy | undefined;

  const setup = async (t: TestContext, extra: Record<string, unknown> = {}) => {
    const server = real.need(t);
    if (!server) return undefined;
    proxy ??= await startFaultProxy({ host: server.host, port: server.port }, { ftp });
    proxy.rules = { faults: [], refuse: 0 };
    const r = await rig(server, proxy, extra);
    t.after(async () => {
      if (proxy) proxy.rules = { faults: [], refuse: 0 };
      await r.close();
    });
    return { server, proxy, ...r };
  };
  after(async () => {
    await proxy?.close();
  });

  const what = ftp ? "FTP data connection" : "SFTP session";

  for (const action of ["cut", "reset"] as const) {
    it(
      `${action} of the ${what} during an upload: retried, the complete object under its name`,
      TEST_TIMEOUT,
      async (t) => {
        const r = await setup(t);
        if (!r) return;
        const data = randomBytes(8 * MiB);
        const fault: Fault = { action, direction: "up", after: 3 * MiB, on };
        r.proxy.rules.faults = [fault];
        assert.equal(await r.storage.write("obj/a", data), data.length);
        assert.equal(r.proxy.hits(fault), 1, "the fault never struck");
        assert.ok(r.log.retries().length >= 1, `no retry was logged:\n${r.log.dump()}`);
        await assertComplete(r.clean, "obj/a", data);
        assert.deepEqual(await names(r.clean, "obj"), ["a"]);
        assert.deepEqual(await names(r.storage, "obj"), ["a"]);
        // After an FTP data cut the control connection survives and removes the failed
        // attempt's temporary object at once; otherwise (the connection is dead) a fresh one
        // removes it in the background.
        await assertNoTempsOnDisk(join(r.disk, "obj"), ftp && action === "cut" ? 0 : CLEANUP_S);
      },
    );
  }

  it(
    `${what} cut on every attempt: the write fails and leaves nothing, or the old object`,
    TEST_TIMEOUT,
    async (t) => {
      const r = await setup(t, { maxRetries: 2 });
      if (!r) return;
      const old = randomBytes(100_000);
      await r.storage.write("obj/kept", old);
      const fault: Fault = { action: "cut", direction: "up", after: MiB, on, times: 100 };
      r.proxy.rules.faults = [fault];
      const data = randomBytes(4 * MiB);
      await assert.rejects(r.storage.write("obj/new", data), (error: unknown) =>
        isStorageError(error),
      );
      await assert.rejects(r.storage.write("obj/kept", data), (error: unknown) =>
        isStorageError(error),
      );
      assert.ok(r.proxy.hits(fault) >= 6, `only ${String(r.proxy.hits(fault))} attempts were cut`);
      r.proxy.rules.faults = [];
      await assertAbsent(r.clean, "obj/new");
      await assertComplete(r.clean, "obj/kept", old);
      assert.deepEqual(await names(r.clean, "obj"), ["kept"]);
      await assertNoTempsOnDisk(join(r.disk, "obj"), CLEANUP_S);
    },
  );

  it(
    `stall of the ${what} during an upload: times out after idleTimeout, retried to the end`,
    TEST_TIMEOUT,
    async (t) => {
      const r = await setup(t);
      if (!r) return;
      const data = randomBytes(8 * MiB);
      const fault: Fault = { action: "stall", direction: "up", after: MiB, on };
      r.proxy.rules.faults = [fault];
      const start = performance.now();
      assert.equal(await r.storage.write("obj/stalled", data), data.length);
      const total = (performance.now() - start) / 1000;
      assert.equal(r.proxy.hits(fault), 1);
      const stalled = stallSeconds(r.proxy, fault, r.log);
      t.diagnostic(
        `stall detected after ${stalled.toFixed(2)} s; whole write ${total.toFixed(2)} s`,
      );
      assert.ok(
        stalled >= IDLE_TIMEOUT_S - 0.3,
        `gave up after ${stalled.toFixed(2)} s, before idleTimeout`,
      );
      assert.ok(stalled <= IDLE_TIMEOUT_S + 1, `gave up only after ${stalled.toFixed(2)} s`);
      await assertComplete(r.clean, "obj/stalled", data);
      assert.deepEqual(await names(r.clean, "obj"), ["stalled"]);
      await assertNoTempsOnDisk(join(r.disk, "obj"), CLEANUP_S);
    },
  );

  it(
    `stall of the ${what} during a download: times out after idleTimeout, resumed to the end`,
    TEST_TIMEOUT,
    async (t) => {
      const r = await setup(t);
      if (!r) return;
      const data = randomBytes(8 * MiB);
      await r.storage.write("obj/big", data);
      const fault: Fault = { action: "stall", direction: "down", after: 2 * MiB, on };
      r.proxy.rules.faults = [fault];
      const back = await buffer(r.storage.read("obj/big"));
      assert.equal(r.proxy.hits(fault), 1);
      const stalled = stallSeconds(r.proxy, fault, r.log);
      t.diagnostic(`stall detected after ${stalled.toFixed(2)} s`);
      assert.ok(
        stalled >= IDLE_TIMEOUT_S - 0.3,
        `gave up after ${stalled.toFixed(2)} s, before idleTimeout`,
      );
      assert.ok(stalled <= IDLE_TIMEOUT_S + 1, `gave up only after ${stalled.toFixed(2)} s`);
      assert.equal(back.length, data.length);
      assert.ok(back.equals(data), "the resumed download differs from what was written");
    },
  );

  if (ftp) {
    it(
      "stall of the FTP control connection (a reply never comes): times out, retried",
      TEST_TIMEOUT,
      async (t) => {
        const r = await setup(t);
        if (!r) return;
        const data = randomBytes(MiB);
        const fault: Fault = { action: "stall", direction: "down", after: 0, on: "control" };
        r.proxy.rules.faults = [fault];
        assert.equal(await r.storage.write("obj/reply-lost", data), data.length);
        assert.equal(r.proxy.hits(fault), 1);
        const stalled = stallSeconds(r.proxy, fault, r.log);
        t.diagnostic(`stall detected after ${stalled.toFixed(2)} s`);
        assert.ok(stalled <= IDLE_TIMEOUT_S + 1, `gave up only after ${stalled.toFixed(2)} s`);
        await assertComplete(r.clean, "obj/reply-lost", data);
        await assertNoTempsOnDisk(join(r.disk, "obj"), CLEANUP_S);
      },
    );
  }

  it(`refused connections (${kind}): dialling is retried`, TEST_TIMEOUT, async (t) => {
    const r = await setup(t);
    if (!r) return;
    // Make the pool dial again: close the storage and open a new one while the proxy refuses.
    await r.storage.close();
    r.proxy.rules.refuse = 2;
    const server = r.server;
    const storage = await openStorage(settingsFor(server, r.proxy.port, "faults-refused"), {
      log: r.log,
      retry: RETRY,
    });
    t.after(() => storage.close());
    assert.equal(r.proxy.rules.refuse, 0, "the refusals were not used up");
    const data = randomBytes(1000);
    await storage.write("x", data);
    assert.ok((await buffer(storage.read("x"))).equals(data));
  });
}

describe("faults through the proxy: FTP (vsftpd)", () => {
  faultSuite("vsftpd");
});

describe("faults through the proxy: SFTP (OpenSSH)", () => {
  faultSuite("openssh");
});

describe("connection limit: vsftpd with max_per_ip=2", () => {
  const real = realServer("vsftpd-limit");

  it(
    "completes a 200-object upload at maxConnections=8 and lowers the connection count",
    { timeout: 120_000 },
    async (t) => {
      const server = real.need(t);
      if (!server) return;
      const log = new TimedLog();
      const settings = settingsFor(server, server.port, "limit", { maxConnections: 8 });
      const storage = await openStorage(settings, { log, retry: RETRY });
      const objects = Array.from({ length: 200 }, (_, i) => ({
        key: `objects/${String(i).padStart(3, "0")}`,
        data: randomBytes(4096 + i),
      }));
      try {
        await Promise.all(objects.map(({ key, data }) => storage.write(key, data)));
        const lowered = storage.capabilities.maxConnections;
        t.diagnostic(`maxConnections after the run: ${String(lowered)}`);
        assert.ok(
          lowered >= 1 && lowered <= 2,
          `maxConnections is ${String(lowered)}, expected 1 or 2`,
        );
        assert.ok(
          log.lines.some((l) => /421|too many|refused another connection/i.test(l.line)),
          "the server never refused a connection: the limit was not exercised",
        );
      } finally {
        await storage.close();
      }
      // The witness counts against the same per-IP limit: open it after the first storage closed.
      const clean = await openStorage(
        settingsFor(server, server.port, "limit", { maxConnections: 1 }),
        {
          retry: RETRY,
        },
      );
      try {
        const stored = await names(clean, "objects");
        assert.equal(stored.length, 200);
        for (const { key, data } of objects)
          assert.equal((await clean.stat(key)).size, data.length, key);
        const sample = objects[123];
        assert.ok(sample);
        assert.ok((await buffer(clean.read(sample.key))).equals(sample.data));
        await assertNoTempsOnDisk(join(server.users.password.home, "limit", "objects"), 0);
      } finally {
        await clean.close();
      }
    },
  );
});
