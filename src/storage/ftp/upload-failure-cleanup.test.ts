/**
 * After an upload fails with 426/451 the control connection is still usable, and FileStorage
 * removes the temporary object on it right away: `remove` must work there, in step with the
 * server (no reply of the failed transfer left over for the next command).
 *
 * Scripted server: 451 while the data connection is still open and no longer read (the upload
 * must stop at once, not stall until idleTimeout and then give a good connection up), 426 after
 * the server dropped the data connection, 451 after all data arrived, 426 with keep-alive NOOP
 * replies still owed. Real servers: the data connection reset under vsftpd, ProFTPD and
 * Pure-FTPd (through the fault proxy), which answer 426/451.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { startFaultProxy, type Fault, type FaultProxy } from "../../../test/fault-proxy.ts";
import { closed, type FakeFtpOptions, type FakeFtpServer } from "../../../test/ftp-fake-server.ts";
import { isCode, unavailableServerTest, useFakeFtp } from "../../../test/ftp-test-helpers.ts";
import {
  startServer,
  unavailableReason,
  type RunningServer,
} from "../../../test/servers/harness.ts";
import { MemoryProtocolLog } from "../protocol-log.ts";
import type { ProtocolConnection } from "../protocol.ts";
import { parseSettings, type FtpSettings } from "../settings.ts";
import { createFtpDialer } from "./dialer.ts";

const IDLE_TIMEOUT_S = 5;
const PATH = "/home/.f.ferry-tmp";

const dialFake = useFakeFtp({ idleTimeout: IDLE_TIMEOUT_S });

/**
 * A scripted server whose STOR is `stor` (it gets the server's files, to keep the partial
 * file), and a connection to it.
 */
async function fake(
  stor: (
    arg: string,
    s: Parameters<NonNullable<FakeFtpOptions["hook"]>>[2],
    files: Map<string, Buffer>,
  ) => Promise<void>,
  options: FakeFtpOptions = {},
  settings: Record<string, unknown> = {},
) {
  const state: { files?: Map<string, Buffer> } = {};
  const opened = await dialFake(
    {
      ...options,
      hook: async (verb, arg, s) => {
        if (verb !== "STOR") return false;
        await stor(arg, s, state.files ?? new Map<string, Buffer>());
        return true;
      },
    },
    settings,
  );
  state.files = opened.server.files;
  return opened;
}

/** Removes PATH on the same connection and checks the server got DELE and kept nothing. */
async function removeOnSameConnection(
  server: FakeFtpServer,
  connection: ProtocolConnection,
): Promise<void> {
  assert.ok(server.files.has(PATH), "the partial temporary file is on the server");
  await connection.remove(PATH);
  assert.equal(server.commands.at(-1), `DELE ${PATH}`);
  assert.equal(server.files.has(PATH), false, "removed");
  assert.equal(await connection.alive(), true, "still usable and in step");
  await assert.rejects(connection.stat(PATH), isCode("NOT_FOUND"));
}

void describe("cleanup after a failed upload, on the same connection (scripted server)", () => {
  void test("451 while the data connection is still open and no longer read: the upload stops at once, remove works", async () => {
    const { server, connection } = await fake(async (arg, s, files) => {
      s.reply("150 Ok to send data.");
      const socket = await s.data();
      const [chunk] = (await once(socket, "data")) as [Buffer];
      socket.pause(); // reads nothing more, and keeps the data connection open
      files.set(arg, chunk);
      s.reply("451 Local error in processing.");
    });
    const data = randomBytes(32 << 20);
    const start = performance.now();
    await assert.rejects(
      connection.write(PATH, Readable.from([data])),
      isCode("CONNECTION", /451 Local error/),
    );
    const seconds = (performance.now() - start) / 1000;
    assert.ok(
      seconds < IDLE_TIMEOUT_S / 2,
      `the upload went on for ${seconds.toFixed(2)} s after the server's 451`,
    );
    await removeOnSameConnection(server, connection);
  });

  void test("426 after the server dropped the data connection mid-upload: remove works", async () => {
    const { server, connection } = await fake(async (arg, s, files) => {
      s.reply("150 Ok to send data.");
      const socket = await s.data();
      const [chunk] = (await once(socket, "data")) as [Buffer];
      files.set(arg, chunk);
      socket.resetAndDestroy();
      s.reply("426 Failure reading network stream.");
    });
    await assert.rejects(
      connection.write(PATH, Readable.from([randomBytes(8 << 20)])),
      isCode("CONNECTION", /426/),
    );
    await removeOnSameConnection(server, connection);
  });

  void test("451 after every byte arrived: remove works", async () => {
    const { server, connection } = await fake(async (arg, s, files) => {
      s.reply("150 Ok to send data.");
      const socket = await s.data();
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      await closed(socket);
      files.set(arg, Buffer.concat(chunks));
      s.reply("451 Error writing local file.");
    });
    await assert.rejects(
      connection.write(PATH, Readable.from([randomBytes(1 << 20)])),
      isCode("CONNECTION", /451/),
    );
    await removeOnSameConnection(server, connection);
  });

  void test("426 with keep-alive NOOP replies still owed (answered after it): remove gets its own reply", async () => {
    const { server, connection, log } = await fake(
      async (arg, s, files) => {
        s.reply("150 Ok to send data.");
        const socket = await s.data();
        const chunks: Buffer[] = [];
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        await sleep(2_500);
        files.set(arg, Buffer.concat(chunks));
        socket.resetAndDestroy();
        s.reply("426 Failure reading network stream.");
      },
      { noopDuringTransfer: "queue" },
      { keepAlive: 1 },
    );
    async function* slow() {
      for (let i = 0; i < 30; i++) {
        await sleep(100);
        yield Buffer.alloc(1000, i);
      }
    }
    await assert.rejects(
      connection.write(PATH, Readable.from(slow())),
      isCode("CONNECTION", /426/),
    );
    assert.ok(
      log.lines.some((line) => / > NOOP$/.test(line)),
      "NOOPs were sent during the upload",
    );
    await removeOnSameConnection(server, connection);
  });
});

const REAL_KINDS = ["vsftpd", "proftpd", "pureftpd"] as const;

for (const kind of REAL_KINDS) {
  void describe(`cleanup after a failed upload, on the same connection (${kind})`, async () => {
    const reason = await unavailableReason(kind);
    if (reason !== undefined) {
      unavailableServerTest(kind, reason);
      return;
    }
    let server: RunningServer | undefined;
    let proxy: FaultProxy | undefined;
    before(async () => {
      server = await startServer(kind);
      proxy = await startFaultProxy({ host: server.host, port: server.port }, { ftp: true });
    });
    after(async () => {
      await proxy?.close();
      await server?.stop();
    });

    void test("the data connection reset mid-upload (426/451): remove works on the same connection", async () => {
      assert.ok(server && proxy, `${kind} did not start`);
      const log = new MemoryProtocolLog();
      const settings = parseSettings({
        type: "ftp",
        host: proxy.host,
        port: proxy.port,
        user: server.users.password.name,
        password: server.users.password.password,
        keepAlive: 0,
        idleTimeout: IDLE_TIMEOUT_S,
        connectTimeout: 10,
      }) as FtpSettings;
      const connection = await createFtpDialer(settings, log).dial();
      try {
        const fault: Fault = { action: "reset", direction: "up", after: 1 << 20, on: "data" };
        proxy.rules = { faults: [fault], refuse: 0 };
        const path = `${connection.root}/.cleanup.ferry-tmp`;
        await assert.rejects(
          connection.write(path, Readable.from([randomBytes(8 << 20)])),
          isCode("CONNECTION", /426|451/),
        );
        assert.equal(proxy.hits(fault), 1, "the fault struck");
        proxy.rules = { faults: [], refuse: 0 };
        await connection.remove(path);
        await assert.rejects(connection.stat(path), isCode("NOT_FOUND"));
        assert.equal(await connection.alive(), true);
      } catch (error) {
        console.error(`--- protocol log ---\n${log.lines.slice(-30).join("\n")}`);
        throw error;
      } finally {
        await connection.close();
      }
    });
  });
}
