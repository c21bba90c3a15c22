/**
 * Fault-injection tests of the FTP adapter against a scripted server: command injection,
 * short and aborted transfers, truncated listings, keep-alive replies, timeouts, limits,
 * passive address policy, code pages. The real-server tests are in
 * src/storage/ftp/ftp-servers.test.ts.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { isRetriable, isStorageError } from "../src/storage/errors.ts";
import { openData, type DataContext } from "../src/storage/ftp/data-connection.ts";
import { createFtpDialer } from "../src/storage/ftp/dialer.ts";
import { MemoryProtocolLog } from "../src/storage/protocol-log.ts";
import { parseSettings, type FtpSettings } from "../src/storage/settings.ts";
import { drain, isCode, readAll, useFakeFtp } from "./ftp-test-helpers.ts";

const PASSWORD = "s3cret-Pass";
const fake = useFakeFtp({ password: PASSWORD });

void describe("FTP adapter against a scripted server", () => {
  void test("CR, LF or NUL in a path is refused with INVALID before anything is sent", async () => {
    const { server, connection } = await fake();
    const bad = "/home/a\r\nDELE /home/victim";
    const before = server.commands.length;
    const source = () => Readable.from([Buffer.from("x")]);
    const ops: [string, () => Promise<unknown>][] = [
      ["stat", () => connection.stat(bad)],
      [
        "list",
        async () => {
          await drain(connection.list(bad));
        },
      ],
      ["read", () => connection.read(bad, 0)],
      ["write", () => connection.write(bad, source())],
      ["remove", () => connection.remove("/home/a\nb")],
      ["removeDir", () => connection.removeDir("/home/a\0b")],
      ["rename from", () => connection.rename(bad, "/home/b")],
      ["rename to", () => connection.rename("/home/b", bad)],
      ["mkdir", () => connection.mkdir(bad)],
      ["setMtime", () => connection.setMtime(bad, new Date())],
      ["freeSpace", () => connection.freeSpace(bad)],
    ];
    for (const [name, op] of ops) {
      await assert.rejects(op(), isCode("INVALID", /CR, LF or NUL/), name);
    }
    assert.deepEqual(server.commands.slice(before), [], "nothing was sent");
    assert.equal(await connection.alive(), true);
  });

  void test("the protocol log has every command and reply, and never the password", async () => {
    const { connection, log } = await fake();
    await connection.mkdir("/home/d");
    const text = log.lines.join("\n");
    assert.match(text, /#\d+ > USER u/);
    assert.match(text, /#\d+ < 230 Logged in/);
    assert.match(text, /> MKD \/home\/d/);
    assert.ok(!text.includes(PASSWORD));
  });

  void test("a download with fewer bytes than the 150 reply announced errors (CONNECTION)", async () => {
    const { server, connection } = await fake({
      hook: async (verb, _arg, s) => {
        if (verb !== "RETR") return false;
        s.reply("150 Opening BINARY mode data connection for f (100 bytes).");
        (await s.data()).end(Buffer.alloc(40));
        await sleep(50);
        s.reply("226 Transfer complete.");
        return true;
      },
    });
    server.files.set("/home/f", Buffer.alloc(100));
    const stream = await connection.read("/home/f", 0);
    await assert.rejects(readAll(stream), isCode("CONNECTION", /cut short/));
  });

  void test("a final 426 errors the stream, retriable; the connection stays usable", async () => {
    const { server, connection } = await fake({
      hook: async (verb, _arg, s) => {
        if (verb !== "RETR") return false;
        s.reply("150 Opening data connection.");
        (await s.data()).end(Buffer.alloc(10));
        s.reply("426 Failure writing network stream.");
        return true;
      },
    });
    server.files.set("/home/f", Buffer.alloc(100));
    const stream = await connection.read("/home/f", 0);
    await assert.rejects(
      readAll(stream),
      (error: unknown) => isStorageError(error, "CONNECTION") && isRetriable(error),
    );
    assert.equal(await connection.alive(), true);
  });

  void test("a reset data connection errors the stream instead of ending it", async () => {
    const { server, connection } = await fake({
      hook: async (verb, _arg, s) => {
        if (verb !== "RETR") return false;
        s.reply("150 Opening data connection.");
        const data = await s.data();
        data.write(Buffer.alloc(10));
        await sleep(20);
        data.resetAndDestroy();
        await sleep(20);
        s.reply("426 Connection closed; transfer aborted.");
        return true;
      },
    });
    server.files.set("/home/f", Buffer.alloc(100));
    const stream = await connection.read("/home/f", 0);
    await assert.rejects(readAll(stream), isCode("CONNECTION"));
  });

  void test("read with offset and length ends after length bytes; the control connection stays in sync", async () => {
    const { server, connection } = await fake();
    const big = Buffer.alloc(4 << 20, 7);
    big.write("HELLO", 1000);
    server.files.set("/home/big", big);
    const got = await readAll(await connection.read("/home/big", 1000, 5));
    assert.equal(got.toString(), "HELLO");
    assert.equal(await connection.alive(), true);
    assert.equal((await connection.stat("/home/big")).size, big.length);
    assert.ok(server.commands.includes("REST 1000"));
  });

  void test("a truncated listing is a PROTOCOL error, never a short listing", async () => {
    const { connection } = await fake({
      hook: async (verb, _arg, s) => {
        if (verb !== "LIST") return false;
        s.reply("150 Here comes the directory listing.");
        (await s.data()).end(
          "-rw-r--r-- 1 u g 1 Jan 01 00:00 a\r\n-rw-r--r-- 1 u g 1 Jan 01 00:00 b\r\n",
        );
        await sleep(20);
        s.reply("226 Output truncated to 2 matches");
        return true;
      },
    });
    const iterate = async () => {
      await drain(connection.list("/home"));
    };
    await assert.rejects(iterate(), isCode("PROTOCOL", /listing truncated.*Pure-FTPd: -L/s));
  });

  for (const [reply, code] of [
    ["451 Transfer aborted", "CONNECTION"],
    ["552 Disk quota exceeded", "NO_SPACE"],
  ] as const) {
    void test(`an upload answered "${reply}" rejects with ${code}`, async () => {
      const { connection } = await fake({
        hook: async (verb, _arg, s) => {
          if (verb !== "STOR") return false;
          s.reply("150 Ok to send data.");
          const data = await s.data();
          data.resume();
          await once(data, "end");
          s.reply(reply);
          return true;
        },
      });
      await assert.rejects(
        connection.write("/home/up", Readable.from([Buffer.alloc(1000)])),
        isCode(code),
      );
      assert.equal(await connection.alive(), true);
    });
  }

  for (const mode of ["queue", "immediate"] as const) {
    void test(`keep-alive NOOPs during a slow upload (${mode} replies) never desynchronise the control connection`, async () => {
      const { server, connection } = await fake({ noopDuringTransfer: mode }, { keepAlive: 1 });
      async function* slow() {
        for (let i = 0; i < 6; i++) {
          await sleep(400);
          yield Buffer.alloc(100, i);
        }
      }
      assert.equal(await connection.write("/home/slow", Readable.from(slow())), 600);
      assert.ok(server.commands.filter((c) => c === "NOOP").length >= 2, "NOOPs were sent");
      assert.equal(
        (await connection.stat("/home/slow")).size,
        600,
        "the next reply is SIZE's, not a NOOP's",
      );
      assert.equal(await connection.alive(), true);
    });
  }

  void test("no data for idleTimeout seconds fails the download with TIMEOUT", async () => {
    const { server, connection } = await fake(
      {
        hook: async (verb, _arg, s) => {
          if (verb !== "RETR") return false;
          s.reply("150 Opening data connection.");
          await s.data(); // and never send anything
          return true;
        },
      },
      { idleTimeout: 1 },
    );
    server.files.set("/home/f", Buffer.alloc(10));
    const started = Date.now();
    await assert.rejects(readAll(await connection.read("/home/f", 0)), isCode("TIMEOUT"));
    assert.ok(Date.now() - started < 5_000);
  });

  void test("421 too many connections at the greeting is LIMIT, retriable", async () => {
    await assert.rejects(
      fake({ greeting: "421 There are too many connections from your internet address." }),
      (error: unknown) => isStorageError(error, "LIMIT") && isRetriable(error),
    );
  });

  void test("a refused login is AUTH", async () => {
    await assert.rejects(
      fake({ hook: (verb, _arg, s) => verb === "PASS" && (s.reply("530 Login incorrect."), true) }),
      isCode("AUTH", /Check user and password/),
    );
  });

  void test("connectTimeout covers a server that never greets", async () => {
    const silent = net.createServer(() => undefined);
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const settings = parseSettings({
      type: "ftp",
      host: "127.0.0.1",
      port: (silent.address() as net.AddressInfo).port,
      user: "u",
      connectTimeout: 1,
    }) as FtpSettings;
    const started = Date.now();
    await assert.rejects(
      createFtpDialer(settings, new MemoryProtocolLog()).dial(),
      isCode("TIMEOUT", /greeting/),
    );
    assert.ok(Date.now() - started < 4_000);
    silent.close();
  });

  void test("PASV naming a private address is replaced by the control peer (auto)", async () => {
    const { server, connection, log } = await fake(
      { pasvAddress: "10.9.8.7", feat: ["PASV", "SIZE"] },
      { passiveCommand: "pasv" },
    );
    server.files.set("/home/f", Buffer.from("abc"));
    assert.equal((await readAll(await connection.read("/home/f", 0))).toString(), "abc");
    assert.match(
      log.lines.join("\n"),
      /PASV named 10\.9\.8\.7; using the control connection's address 127\.0\.0\.1/,
    );
  });

  void test("passiveAddress=server refuses a foreign data host", async () => {
    const { server, connection } = await fake(
      { pasvAddress: "198.51.100.7" },
      { passiveCommand: "pasv", passiveAddress: "server" },
    );
    server.files.set("/home/f", Buffer.from("abc"));
    await assert.rejects(connection.read("/home/f", 0), isCode("INVALID", /allowForeignDataHost/));
  });

  void test("EPSV refused: PASV from then on (passiveCommand=auto)", async () => {
    const { server, connection } = await fake({
      hook: (verb, _arg, s) => verb === "EPSV" && (s.reply("500 EPSV not understood"), true),
    });
    server.files.set("/home/f", Buffer.from("abc"));
    await readAll(await connection.read("/home/f", 0));
    await readAll(await connection.read("/home/f", 0));
    assert.equal(server.commands.filter((c) => c === "EPSV").length, 1);
    assert.equal(server.commands.filter((c) => c === "PASV").length, 2);
  });

  void test("MLSD refused (Synology: 500 MLSD not understood): LIST from then on", async () => {
    const { server, connection } = await fake({
      feat: ["EPSV", "MLST type*;size*;modify*;", "SIZE"],
      hook: (verb, _arg, s) =>
        (verb === "MLSD" || verb === "MLST") && (s.reply(`500 ${verb} not understood`), true),
    });
    server.files.set("/home/f", Buffer.from("abc"));
    const names: string[] = [];
    for await (const entry of connection.list("/home")) names.push(entry.name);
    assert.deepEqual(names, ["f"]);
    assert.ok(server.commands.includes("LIST -a"));
  });

  void test("active mode: PORT, the server connects back", async () => {
    const { server, connection } = await fake({}, { passive: false });
    server.files.set("/home/f", Buffer.from("active"));
    assert.equal((await readAll(await connection.read("/home/f", 0))).toString(), "active");
    assert.ok(server.commands.some((c) => c.startsWith("PORT 127,0,0,1,")));
  });

  void test("active mode through a proxy is refused: by the settings, and by the adapter", async () => {
    const input = {
      type: "ftp",
      host: "h",
      user: "u",
      passive: false,
      proxy: "socks5://127.0.0.1:1080",
    };
    assert.throws(() => parseSettings(input), /active mode .*cannot work through a proxy/);
    // Settings built without the schema (a caller's bug) still never reach the network.
    const settings = {
      ...(parseSettings({ ...input, proxy: undefined }) as FtpSettings),
      proxy: input.proxy,
    };
    const context = { settings } as DataContext;
    await assert.rejects(openData(context), isCode("INVALID", /cannot work through a proxy/));
  });

  void test("a cp1251 server: names are sent and read in its code page", async () => {
    const { server, connection } = await fake({}, { encoding: "cp1251" });
    await connection.write("/home/Привет", Readable.from([Buffer.from("x")]));
    const wire =
      Buffer.from("STOR /home/Привет".replace("Привет", ""), "latin1").toString("latin1") +
      Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]).toString("latin1");
    assert.ok(server.commands.includes(wire), "STOR carried cp1251 bytes");
    const names: string[] = [];
    for await (const entry of connection.list("/home")) names.push(entry.name);
    assert.deepEqual(names, ["Привет"]);
    await assert.rejects(connection.mkdir("/home/日本"), isCode("UNSUPPORTED", /encoding=utf8/));
  });
});
