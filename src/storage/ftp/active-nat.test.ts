/**
 * Active mode behind NAT: `activeAddress` names an address that is not on this machine (the
 * NAT's public address), so the listener cannot bind there; it binds on the control
 * connection's local address instead, within `activePorts`, and PORT/EPRT still announce
 * `activeAddress`.
 *
 * The announced addresses are documentation addresses (RFC 5737 / RFC 3849) that are not on
 * this machine: they are only ever bound (which fails) and announced. Nothing connects to them:
 * the scripted server below connects to 127.0.0.1 at the announced port, which is what the NAT
 * would do. A real server (vsftpd-active) would connect to the announced address itself, so
 * this cannot be tested end to end against one without sending traffic off the machine.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import { after, describe, test } from "node:test";
import { closed, startFakeFtp, type FakeFtpServer } from "../../../test/ftp-fake-server.ts";
import { isStorageError } from "../errors.ts";
import { MemoryProtocolLog } from "../protocol-log.ts";
import type { ProtocolConnection } from "../protocol.ts";
import { parseSettings, type FtpSettings } from "../settings.ts";
import type { Control } from "./control.ts";
import { openData, type DataContext } from "./data-connection.ts";
import { createFtpDialer } from "./dialer.ts";

/** Not on this machine; bound (EADDRNOTAVAIL) and announced, never connected to. */
const NAT_IPV4 = "198.51.100.10";
const NAT_IPV6 = "2001:db8::10";

/** A port range of `width` ports in 42000-48999, different on every call. */
function freshRange(width = 10): [number, number] {
  const low = 42_000 + Math.floor(Math.random() * 700) * 10;
  return [low, low + width - 1];
}

/** Listens on every port of a fresh range of `width` ports on 127.0.0.1 (retrying collisions). */
async function occupyRange(
  width: number,
): Promise<{ range: [number, number]; blockers: net.Server[] }> {
  for (let attempt = 0; ; attempt++) {
    const range = freshRange(width);
    const blockers: net.Server[] = [];
    try {
      for (let port = range[0]; port <= range[1]; port++) {
        const blocker = net.createServer();
        blockers.push(blocker);
        blocker.listen(port, "127.0.0.1");
        await once(blocker, "listening");
      }
      return { range, blockers };
    } catch (error) {
      for (const blocker of blockers) blocker.close();
      if (attempt >= 20) throw error;
    }
  }
}

function settingsOf(extra: Record<string, unknown>): FtpSettings {
  return parseSettings({
    type: "ftp",
    host: "127.0.0.1",
    user: "u",
    password: "p",
    passive: false,
    keepAlive: 0,
    connectTimeout: 5,
    ...extra,
  }) as FtpSettings;
}

/**
 * A data context on a stand-in control connection between 127.0.0.1 and 127.0.0.1 that records
 * what it is asked to send and accepts it (200).
 */
function unitContext(extra: Record<string, unknown>): { ctx: DataContext; sent: string[] } {
  const sent: string[] = [];
  const control = {
    socket: {
      remoteAddress: "127.0.0.1",
      localAddress: "127.0.0.1",
      remoteFamily: "IPv4",
    },
    expect: (verb: string, arg: string | undefined) => {
      sent.push(arg === undefined ? verb : `${verb} ${arg}`);
      return Promise.resolve({ code: 200, message: "200 OK" });
    },
    note: () => undefined,
  } as unknown as Control;
  const ctx: DataContext = {
    settings: settingsOf(extra),
    control,
    connectTimeoutMs: 5_000,
    tls: undefined,
    controlFingerprint: undefined,
    epsvRefused: false,
    lastSessionReused: undefined,
  };
  return { ctx, sent };
}

/** `PORT h1,h2,h3,h4,p1,p2` → address and port. */
function parsePort(argument: string): { host: string; port: number } {
  const n = argument.split(",").map(Number);
  assert.equal(n.length, 6, `PORT argument ${argument}`);
  return { host: n.slice(0, 4).join("."), port: (n[4] ?? 0) * 256 + (n[5] ?? 0) };
}

/** `EPRT |2|addr|port|` → address and port. */
function parseEprt(argument: string): { host: string; port: number } {
  const [, family, host = "", port = ""] = argument.split("|");
  assert.equal(family, "2", `EPRT argument ${argument}`);
  return { host, port: Number(port) };
}

/** Connects to 127.0.0.1:port (where the NAT would forward) and checks the data path works. */
async function connectBack(
  port: number,
  pending: Awaited<ReturnType<typeof openData>>,
): Promise<void> {
  const client = net.connect(port, "127.0.0.1");
  client.on("error", () => undefined);
  try {
    await once(client, "connect");
    const socket = await pending.ready();
    assert.equal(socket.localAddress, "127.0.0.1", "the listener is on the local address");
    socket.write("ok");
    const [chunk] = (await once(client, "data")) as [Buffer];
    assert.equal(chunk.toString(), "ok");
  } finally {
    client.destroy();
    pending.close();
  }
}

const open: { server: FakeFtpServer; connection?: ProtocolConnection }[] = [];
after(async () => {
  for (const { server, connection } of open) {
    await connection?.close();
    await server.close();
  }
});

void describe("active mode with activeAddress not on this machine (NAT)", () => {
  void test("activePorts + an IPv4 activeAddress: listens locally within the range, PORT announces activeAddress", async () => {
    const range = freshRange();
    const { ctx, sent } = unitContext({ activeAddress: NAT_IPV4, activePorts: range.join("-") });
    const pending = await openData(ctx);
    assert.equal(sent.length, 1);
    const [verb, argument = ""] = (sent[0] ?? "").split(" ");
    assert.equal(verb, "PORT");
    const announced = parsePort(argument);
    assert.equal(announced.host, NAT_IPV4);
    assert.ok(
      announced.port >= range[0] && announced.port <= range[1],
      `port ${String(announced.port)} in ${range.join("-")}`,
    );
    await connectBack(announced.port, pending);
  });

  void test("activePorts + an IPv6 activeAddress: EPRT announces it, the listener is local", async () => {
    const range = freshRange();
    const { ctx, sent } = unitContext({ activeAddress: NAT_IPV6, activePorts: range.join("-") });
    const pending = await openData(ctx);
    const [verb, argument = ""] = (sent[0] ?? "").split(" ");
    assert.equal(verb, "EPRT");
    const announced = parseEprt(argument);
    assert.equal(announced.host, NAT_IPV6);
    assert.ok(announced.port >= range[0] && announced.port <= range[1]);
    await connectBack(announced.port, pending);
  });

  void test("without activePorts: any local port, PORT announces activeAddress", async () => {
    const { ctx, sent } = unitContext({ activeAddress: NAT_IPV4 });
    const pending = await openData(ctx);
    const announced = parsePort((sent[0] ?? "").split(" ")[1] ?? "");
    assert.equal(announced.host, NAT_IPV4);
    await connectBack(announced.port, pending);
  });

  void test("a range with every port taken is still a CONNECTION error naming the fix", async () => {
    const { range, blockers } = await occupyRange(2);
    try {
      const { ctx, sent } = unitContext({ activeAddress: NAT_IPV4, activePorts: range.join("-") });
      await assert.rejects(
        openData(ctx),
        (error: unknown) =>
          isStorageError(error, "CONNECTION") &&
          /127\.0\.0\.1 ports .*Widen activePorts/.test(error.message),
      );
      assert.deepEqual(sent, [], "nothing announced");
    } finally {
      for (const blocker of blockers) blocker.close();
    }
  });

  void test("a host name as activeAddress is refused: PORT can only announce an address", async () => {
    // The settings refuse it; settings built without the schema are refused by the adapter.
    assert.throws(() => settingsOf({ activeAddress: "localhost" }), /expected an IP address/);
    const { ctx, sent } = unitContext({});
    const bypassed = { ...ctx, settings: { ...ctx.settings, activeAddress: "localhost" } };
    await assert.rejects(openData(bypassed), (error: unknown) => isStorageError(error, "INVALID"));
    assert.deepEqual(sent, []);
  });

  void test("through the adapter: a read in active mode behind NAT against the scripted server", async () => {
    const range = freshRange();
    const body = Buffer.from("behind a NAT");
    let data: net.Socket | undefined;
    const server = await startFakeFtp({
      hook: async (verb, arg, s) => {
        if (verb === "PORT") {
          // Like the NAT: the announced public address is forwarded to this machine. Only ever
          // connect to loopback, never to the announced address.
          const { port } = parsePort(arg);
          const socket = net.connect(port, "127.0.0.1");
          socket.on("error", () => undefined);
          await once(socket, "connect");
          data = socket;
          s.reply("200 PORT command successful.");
          return true;
        }
        if (verb === "RETR") {
          const socket = data;
          if (socket === undefined) {
            s.reply("425 Use PORT first.");
            return true;
          }
          data = undefined;
          s.reply(`150 Opening BINARY mode data connection (${String(body.length)} bytes).`);
          socket.end(body);
          await closed(socket);
          s.reply("226 Transfer complete.");
          return true;
        }
        return false;
      },
    });
    const entry: (typeof open)[number] = { server };
    open.push(entry);
    const log = new MemoryProtocolLog();
    const connection = await createFtpDialer(
      settingsOf({ port: server.port, activeAddress: NAT_IPV4, activePorts: range.join("-") }),
      log,
    ).dial();
    entry.connection = connection;
    const chunks: Buffer[] = [];
    for await (const chunk of await connection.read("/home/f", 0)) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), body.toString());
    const port = server.commands.find((c) => c.startsWith("PORT "));
    assert.ok(port, "PORT sent");
    const announced = parsePort(port.slice(5));
    assert.equal(announced.host, NAT_IPV4);
    assert.ok(announced.port >= range[0] && announced.port <= range[1]);
    assert.match(log.lines.join("\n"), /is not on this machine: listening on 127\.0\.0\.1:/);
    assert.equal(await connection.alive(), true);
  });
});
