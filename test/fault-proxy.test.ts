import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { startFaultProxy, type Fault, type FaultProxy } from "./fault-proxy.ts";

/** An echo server that also records what each connection sent and how it ended. */
interface EchoServer {
  port: number;
  received: Buffer[][];
  ended: Promise<string>[];
  close(): Promise<void>;
}

async function startEcho(): Promise<EchoServer> {
  const received: Buffer[][] = [];
  const ended: Promise<string>[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    received.push(chunks);
    ended.push(
      new Promise((resolve) => {
        socket.on("error", (error: NodeJS.ErrnoException) => {
          resolve(error.code ?? "error");
        });
        socket.on("end", () => {
          resolve("end");
        });
        socket.on("close", () => {
          sockets.delete(socket);
          resolve("close");
        });
      }),
    );
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      socket.write(chunk);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    ended,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * Connects, sends `data`, collects what comes back until the connection ends, `ms` pass
 * (outcome `open`) or `until` bytes came back (outcome `complete`).
 */
async function exchange(
  port: number,
  data: Buffer,
  ms = 2000,
  until = Number.POSITIVE_INFINITY,
): Promise<{ back: Buffer; outcome: string; socket: net.Socket }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  let received = 0;
  const outcome = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => {
      resolve("open");
    }, ms);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= until) {
        clearTimeout(timer);
        resolve("complete");
      }
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? "error");
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
    socket.on("connect", () => {
      socket.write(data);
    });
  });
  return { back: Buffer.concat(chunks), outcome, socket };
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

const total = (chunks: Buffer[] | undefined) => Buffer.concat(chunks ?? []).length;

describe("fault proxy", { timeout: 20_000 }, () => {
  let echo: EchoServer;
  let proxy: FaultProxy;

  before(async () => {
    echo = await startEcho();
    proxy = await startFaultProxy({ host: "127.0.0.1", port: echo.port });
  });
  after(async () => {
    await proxy.close();
    await echo.close();
  });

  it("forwards both directions unchanged and counts connections", async () => {
    const data = randomBytes(1 << 20);
    const { back, socket } = await exchange(proxy.port, data, 300);
    socket.destroy();
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data));
    assert.equal(proxy.connections, 1);
  });

  it("cuts a connection after exactly N bytes up, once", async () => {
    const fault: Fault = { action: "cut", direction: "up", after: 10_000 };
    proxy.rules.faults = [fault];
    const first = await exchange(proxy.port, randomBytes(100_000));
    // The client was still sending when the proxy closed on it: Linux answers the bytes that
    // arrive after the close with RST, exactly as with a server that closes mid-upload.
    assert.match(first.outcome, /^(closed|ECONNRESET|EPIPE)$/);
    assert.ok(first.back.length <= 10_000);
    assert.equal(total(echo.received.at(-1)), 10_000);
    assert.equal(proxy.hits(fault), 1);
    // Spent after one connection: the next one passes untouched.
    const second = await exchange(proxy.port, randomBytes(100_000), 300);
    second.socket.destroy();
    assert.equal(second.back.length, 100_000);
    assert.equal(proxy.hits(fault), 1);
    proxy.rules.faults = [];
  });

  it("resets both sides after N bytes down", async () => {
    const fault: Fault = { action: "reset", direction: "down", after: 5000 };
    proxy.rules.faults = [fault];
    const { outcome, back } = await exchange(proxy.port, randomBytes(50_000));
    assert.equal(outcome, "ECONNRESET");
    assert.ok(back.length <= 5000);
    assert.equal(await echo.ended.at(-1), "ECONNRESET");
    assert.equal(proxy.hits(fault), 1);
    proxy.rules.faults = [];
  });

  it("stalls a connection after N bytes, keeps it open, and closes the server side when the client gives up", async () => {
    const fault: Fault = { action: "stall", direction: "down", after: 3000 };
    proxy.rules.faults = [fault];
    const { outcome, back, socket } = await exchange(proxy.port, randomBytes(20_000), 500);
    assert.equal(outcome, "open");
    assert.equal(back.length, 3000);
    assert.equal(proxy.hits(fault), 1);
    assert.equal(proxy.struckAt(fault).length, 1);
    const serverEnd = echo.ended.at(-1);
    socket.destroy();
    assert.ok(serverEnd);
    assert.match(await serverEnd, /^(end|close)$/);
    proxy.rules.faults = [];
  });

  it("holds back a sender with TCP back-pressure once a stalled connection has 1 MiB", async () => {
    const fault: Fault = { action: "stall", direction: "up", after: 0 };
    proxy.rules.faults = [fault];
    const seen = echo.received.length;
    const socket = net.connect({ host: "127.0.0.1", port: proxy.port });
    socket.on("error", () => undefined);
    await once(socket, "connect");
    while (echo.received.length === seen) await sleep(5);
    // Write until a write does not drain within a second: the proxy stopped reading.
    const chunk = Buffer.alloc(1 << 20);
    let written = 0;
    while (written < 256 << 20) {
      written += chunk.length;
      if (!socket.write(chunk)) {
        const drained = await Promise.race([
          once(socket, "drain").then(() => true),
          sleep(1000).then(() => false),
        ]);
        if (!drained) break;
      }
    }
    assert.ok(written < 256 << 20, "the stalled proxy kept reading without limit");
    assert.equal(total(echo.received.at(-1)), 0);
    assert.equal(proxy.hits(fault), 1);
    socket.destroy();
    proxy.rules.faults = [];
  });

  it("throttles a direction to a rate per connection", async () => {
    proxy.rules.throttle = { down: 200 * 1024 };
    const start = performance.now();
    const { back, socket, outcome } = await exchange(
      proxy.port,
      randomBytes(200 * 1024),
      5000,
      200 * 1024,
    );
    const seconds = (performance.now() - start) / 1000;
    socket.destroy();
    delete proxy.rules.throttle;
    assert.equal(outcome, "complete");
    assert.equal(back.length, 200 * 1024);
    assert.ok(seconds >= 0.9, `200 KiB at 200 KiB/s took only ${seconds.toFixed(2)} s`);
    assert.ok(seconds < 2, `200 KiB at 200 KiB/s took ${seconds.toFixed(2)} s`);
  });

  it("refuses the next K connections, then accepts again", async () => {
    proxy.rules.refuse = 2;
    const before = proxy.connections;
    for (let i = 0; i < 2; i++) {
      const { outcome, back } = await exchange(proxy.port, Buffer.from("hello"));
      assert.match(outcome, /^(ECONNRESET|closed|EPIPE)$/);
      assert.equal(back.length, 0);
    }
    const third = await exchange(proxy.port, Buffer.from("hello"), 200);
    third.socket.destroy();
    assert.equal(third.back.toString(), "hello");
    assert.equal(proxy.connections, before + 3);
    assert.equal(proxy.rules.refuse, 0);
  });

  it("tears everything down on close", async () => {
    const own = await startFaultProxy({ host: "127.0.0.1", port: echo.port });
    own.rules.faults = [{ action: "stall", direction: "up", after: 0 }];
    const pending = exchange(own.port, Buffer.from("x"), 5000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(own.active, 1);
    await own.close();
    const { outcome } = await pending;
    assert.notEqual(outcome, "open");
  });
});

/** A fake FTP server: greets, answers PASV/EPSV with a data port that sends `payload`. */
async function startFakeFtp(payload: Buffer) {
  const dataServer = net.createServer((socket) => {
    socket.on("error", () => undefined);
    socket.end(payload);
  });
  dataServer.listen(0, "127.0.0.1");
  await once(dataServer, "listening");
  const dataPort = (dataServer.address() as net.AddressInfo).port;
  const control = net.createServer((socket) => {
    socket.on("error", () => undefined);
    socket.write("220 fake\r\n");
    socket.on("data", (chunk: Buffer) => {
      const command = chunk.toString("latin1").trim();
      if (command === "PASV") {
        socket.write(
          `227 Entering Passive Mode (127,0,0,1,${String(dataPort >> 8)},${String(dataPort & 255)}).\r\n`,
        );
      } else if (command === "EPSV") {
        socket.write(`229 Entering Extended Passive Mode (|||${String(dataPort)}|)\r\n`);
      } else if (command === "FEAT") {
        // A multi-line reply cut so that a chunk starts with a continuation line (" EPSV").
        socket.write("211-Features:\r\n");
        setTimeout(() => socket.write(" EPSV\r\n PASV\r\n211 End\r\n"), 20);
      } else if (command === "AUTH TLS") {
        // Pretend TLS: a 234 and then bytes that merely look like a PASV reply.
        socket.write(
          `234 Proceed.\r\n227 Entering Passive Mode (127,0,0,1,${String(dataPort >> 8)},${String(dataPort & 255)}).\r\n`,
        );
      } else {
        socket.write("500 ?\r\n");
      }
    });
  });
  control.listen(0, "127.0.0.1");
  await once(control, "listening");
  return {
    port: (control.address() as net.AddressInfo).port,
    dataPort,
    close: async () => {
      control.close();
      dataServer.close();
      await Promise.all([once(control, "close"), once(dataServer, "close")]);
    },
  };
}

/** Reads lines from a control socket. */
function lineReader(socket: net.Socket) {
  let buffered = "";
  const waiting: ((line: string) => void)[] = [];
  const lines: string[] = [];
  socket.setEncoding("latin1");
  socket.on("data", (text: string) => {
    buffered += text;
    for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
      const line = buffered.slice(0, end + 1);
      buffered = buffered.slice(end + 1);
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
    }
  });
  return () =>
    new Promise<string>((resolve) => {
      const line = lines.shift();
      if (line !== undefined) resolve(line);
      else waiting.push(resolve);
    });
}

async function download(port: number): Promise<{ data: Buffer; outcome: string }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  const outcome = await new Promise<string>((resolve) => {
    socket.on("error", (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? "error");
    });
    socket.on("end", () => {
      resolve("end");
    });
  });
  socket.destroy();
  return { data: Buffer.concat(chunks), outcome };
}

describe("fault proxy in FTP mode", { timeout: 20_000 }, () => {
  const payload = randomBytes(300_000);
  let ftp: Awaited<ReturnType<typeof startFakeFtp>>;
  let proxy: FaultProxy;

  before(async () => {
    ftp = await startFakeFtp(payload);
    proxy = await startFaultProxy({ host: "127.0.0.1", port: ftp.port }, { ftp: true });
  });
  after(async () => {
    await proxy.close();
    await ftp.close();
  });

  it("rewrites PASV and EPSV replies so data connections pass through the proxy", async () => {
    const control = net.connect({ host: "127.0.0.1", port: proxy.port });
    const next = lineReader(control);
    assert.equal(await next(), "220 fake\r\n");

    control.write("PASV\r\n");
    const pasv = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(await next());
    assert.ok(pasv);
    assert.equal(pasv.slice(1, 5).join("."), "127.0.0.1");
    const pasvPort = Number(pasv[5]) * 256 + Number(pasv[6]);
    assert.notEqual(pasvPort, ftp.dataPort);
    const viaPasv = await download(pasvPort);
    assert.ok(viaPasv.data.equals(payload));

    control.write("EPSV\r\n");
    const epsv = /\(\|\|\|(\d+)\|\)/.exec(await next());
    assert.ok(epsv);
    assert.notEqual(Number(epsv[1]), ftp.dataPort);
    const viaEpsv = await download(Number(epsv[1]));
    assert.ok(viaEpsv.data.equals(payload));
    assert.equal(proxy.dataConnections, 2);
    control.destroy();
  });

  it("keeps rewriting after a chunk that starts with a reply continuation line", async () => {
    const control = net.connect({ host: "127.0.0.1", port: proxy.port });
    const next = lineReader(control);
    await next();
    control.write("FEAT\r\n");
    for (let line = await next(); !line.startsWith("211 "); line = await next()) {
      // the feature lines
    }
    control.write("EPSV\r\n");
    const epsv = /\(\|\|\|(\d+)\|\)/.exec(await next());
    assert.ok(epsv);
    assert.notEqual(Number(epsv[1]), ftp.dataPort);
    control.destroy();
  });

  it("aims a fault at data connections only", async () => {
    const fault: Fault = { action: "cut", direction: "down", after: 100_000, on: "data" };
    proxy.rules.faults = [fault];
    const control = net.connect({ host: "127.0.0.1", port: proxy.port });
    const next = lineReader(control);
    await next();
    control.write("EPSV\r\n");
    const epsv = /\(\|\|\|(\d+)\|\)/.exec(await next());
    assert.ok(epsv);
    const cut = await download(Number(epsv[1]));
    // A cut (FIN) looks like a normal end of file: only the size tells. That is the point.
    assert.equal(cut.data.length, 100_000);
    assert.equal(proxy.hits(fault), 1);
    // The control connection carried more than 100 000 bytes? No: it is not a data connection
    // and was never watched; it still works.
    control.write("PASV\r\n");
    assert.match(await next(), /^227 /);
    control.destroy();
    proxy.rules.faults = [];
  });

  it("stops rewriting once AUTH TLS is accepted", async () => {
    const control = net.connect({ host: "127.0.0.1", port: proxy.port });
    const next = lineReader(control);
    await next();
    control.write("AUTH TLS\r\n");
    assert.equal(await next(), "234 Proceed.\r\n");
    const raw = await next();
    assert.ok(raw.includes(`,${String(ftp.dataPort >> 8)},${String(ftp.dataPort & 255)})`), raw);
    control.destroy();
  });
});
