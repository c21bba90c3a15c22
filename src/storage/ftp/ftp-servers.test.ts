/**
 * The FTP adapter against real vsftpd, ProFTPD and Pure-FTPd servers (test/servers/harness.ts).
 * A server that cannot run here fails the test with the reason when CI is set, and is skipped
 * with the reason otherwise.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chown, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { drain, isCode, readAll, unavailableServerTest } from "../../../test/ftp-test-helpers.ts";
import {
  ALL_SERVER_KINDS,
  startServer,
  unavailableReason,
  type RunningServer,
  type ServerKind,
} from "../../../test/servers/harness.ts";
import { isRetriable, isStorageError } from "../errors.ts";
import { MemoryProtocolLog } from "../protocol-log.ts";
import type { ProtocolConnection } from "../protocol.ts";
import { parseSettings, type FtpSettings } from "../settings.ts";
import { connectTcp } from "../net/connect.ts";
import { Control } from "./control.ts";
import { createFtpDialer } from "./dialer.ts";
import { createNameCodec } from "./encoding.ts";
import { readMtime, setMtime } from "./mtime.ts";

type FtpKind = Exclude<ServerKind, "openssh">;
const KINDS = ALL_SERVER_KINDS.filter((kind): kind is FtpKind => kind !== "openssh");
const TLS_KINDS = new Set<FtpKind>(["vsftpd", "proftpd", "pureftpd"]);

function settingsFor(server: RunningServer, extra: Record<string, unknown> = {}): FtpSettings {
  const kind = server.kind as FtpKind;
  const tls = extra["tls"] ?? (kind === "vsftpd-implicit" ? "implicit" : "none");
  return parseSettings({
    type: "ftp",
    host: server.host,
    port: server.port,
    user: server.users.password.name,
    password: server.users.password.password,
    keepAlive: 0,
    connectTimeout: 10,
    ...(kind === "vsftpd-implicit" ? { tls: "implicit" } : {}),
    ...(kind === "vsftpd-active" ? { passive: false } : {}),
    // caFile only with TLS: parseSettings refuses settings that would have no effect.
    ...(server.caFile === undefined || tls === "none" ? {} : { caFile: server.caFile }),
    ...extra,
  }) as FtpSettings;
}

async function dial(server: RunningServer, extra: Record<string, unknown> = {}) {
  const log = new MemoryProtocolLog();
  const connection = await createFtpDialer(settingsFor(server, extra), log).dial();
  return { connection, log };
}

async function names(connection: ProtocolConnection, dir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for await (const entry of connection.list(dir)) found.set(entry.name, entry.size);
  return found;
}

/** 2 MiB in 64 KiB chunks, as a stream. */
function chunked(body: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += 65_536) parts.push(body.subarray(i, i + 65_536));
  return Readable.from(parts);
}

/** Runs `task`; on failure, prints the end of the protocol log and of the server's log. */
async function diagnosed<T>(
  server: RunningServer,
  log: MemoryProtocolLog,
  task: () => Promise<T>,
): Promise<T> {
  try {
    return await task();
  } catch (error) {
    const serverLog = await readFile(server.logFile, "utf8").catch(() => "");
    console.error(
      `--- protocol log ---\n${log.lines.slice(-40).join("\n")}\n--- ${server.logFile} ---\n${serverLog.slice(-3000)}`,
    );
    throw error;
  }
}

/** mkdir, 2 MiB write, stat, list (dot-files too), ranged read, rename over, setMtime, remove. */
async function exercise(connection: ProtocolConnection): Promise<void> {
  const dir = `${connection.root}/t-${randomBytes(4).toString("hex")}`;
  await connection.mkdir(dir);
  await assert.rejects(connection.mkdir(dir), isCode("EXISTS"));
  await assert.rejects(connection.mkdir(`${dir}/missing/child`), isCode("NOT_FOUND"));
  const body = randomBytes(2 << 20);
  assert.equal(await connection.write(`${dir}/a b.bin`, chunked(body)), body.length);
  await connection.write(`${dir}/.hidden`, Readable.from([Buffer.from("dot")]));
  const stat = await connection.stat(`${dir}/a b.bin`);
  assert.equal(stat.type, "file");
  assert.equal(stat.size, body.length);
  assert.ok(
    stat.mtime && Math.abs(stat.mtime.getTime() - Date.now()) < 10 * 60_000,
    "a recent mtime",
  );
  assert.equal((await connection.stat(dir)).type, "directory");
  await assert.rejects(connection.stat(`${dir}/nope`), isCode("NOT_FOUND"));
  const listed = await names(connection, dir);
  assert.equal(listed.get("a b.bin"), body.length);
  assert.equal(listed.get(".hidden"), 3, "dot-files are listed (LIST -a / MLSD)");
  assert.deepEqual(
    await readAll(await connection.read(`${dir}/a b.bin`, 1000, 5000)),
    body.subarray(1000, 6000),
  );
  assert.deepEqual(
    await readAll(await connection.read(`${dir}/a b.bin`, body.length - 10)),
    body.subarray(-10),
  );
  assert.deepEqual(await readAll(await connection.read(`${dir}/a b.bin`, 0)), body);
  await assert.rejects(connection.read(`${dir}/nope`, 0), isCode("NOT_FOUND"));
  assert.equal(
    (await readAll(await connection.read(`${dir}/a b.bin`, body.length + 100))).length,
    0,
    "past the end: no bytes",
  );
  assert.equal(await connection.write(`${dir}/empty`, Readable.from([])), 0);
  assert.equal((await connection.stat(`${dir}/empty`)).size, 0);
  assert.equal((await readAll(await connection.read(`${dir}/empty`, 0))).length, 0);
  await connection.remove(`${dir}/empty`);
  await connection.write(`${dir}/b.bin`, Readable.from([Buffer.from("old")]));
  if (connection.features.atomicReplace) {
    await connection.rename(`${dir}/a b.bin`, `${dir}/b.bin`);
    assert.equal(
      (await connection.stat(`${dir}/b.bin`)).size,
      body.length,
      "renamed over the old file",
    );
    await assert.rejects(connection.stat(`${dir}/a b.bin`), isCode("NOT_FOUND"));
  }
  await assert.rejects(connection.rename(`${dir}/nope`, `${dir}/x`), isCode("NOT_FOUND"));
  assert.ok(connection.features.setMtime, "every test server can set times");
  const when = new Date("2001-02-03T04:05:06Z");
  await connection.setMtime(`${dir}/b.bin`, when);
  assert.equal((await connection.stat(`${dir}/b.bin`)).mtime?.toISOString(), when.toISOString());
  await connection.remove(`${dir}/b.bin`);
  await assert.rejects(connection.remove(`${dir}/b.bin`), isCode("NOT_FOUND"));
  await assert.rejects(connection.removeDir(dir), isCode("EXISTS", /not empty/));
  await connection.remove(`${dir}/.hidden`);
  await connection.removeDir(dir);
  await assert.rejects(connection.removeDir(dir), isCode("NOT_FOUND"));
  assert.equal(await connection.alive(), true);
}

function serverSuite(kind: FtpKind, body: (get: () => RunningServer) => void): void {
  void describe(kind, async () => {
    const reason = await unavailableReason(kind);
    if (reason !== undefined) {
      unavailableServerTest(kind, reason);
      return;
    }
    let server: RunningServer | undefined;
    before(async () => {
      server = await startServer(kind);
    });
    after(async () => {
      await server?.stop();
    });
    body(() => {
      assert.ok(server, `${kind} did not start`);
      return server;
    });
  });
}

for (const kind of KINDS) {
  serverSuite(kind, (get) => {
    void test("dial, mkdir, write 2 MiB, stat, list, ranged read, rename over, setMtime, remove", async () => {
      const server = get();
      const { connection, log } = await dial(server);
      try {
        await diagnosed(server, log, () => exercise(connection));
        if (kind === "vsftpd-active") assert.match(log.lines.join("\n"), /> PORT 127,0,0,1,/);
        if (kind === "vsftpd-implicit") assert.equal(connection.info().protocol, "ftps");
      } finally {
        await connection.close();
      }
      const text = log.lines.join("\n");
      assert.ok(
        !text.includes(server.users.password.password),
        "the password never reaches the log",
      );
      assert.match(text, /> PASS \*\*\*\*/);
    });

    if (kind === "vsftpd-implicit") {
      void test("implicit TLS resumes the session on data connections", async () => {
        const { connection } = await dial(get());
        try {
          await connection.write(`${connection.root}/i.bin`, Readable.from([randomBytes(70_000)]));
          assert.equal(
            (await readAll(await connection.read(`${connection.root}/i.bin`, 0))).length,
            70_000,
          );
          assert.equal(connection.info().tls?.sessionReused, true);
        } finally {
          await connection.close();
        }
      });
    }

    if (TLS_KINDS.has(kind)) {
      for (const tlsMaxVersion of ["1.3", "1.2"]) {
        void test(`explicit TLS ${tlsMaxVersion} with session reuse on data connections`, async () => {
          const server = get();
          const { connection, log } = await dial(server, {
            tls: "explicit",
            tlsMaxVersion,
            tlsMinVersion: "1.2",
          });
          try {
            await diagnosed(server, log, () => exercise(connection));
            const info = connection.info();
            assert.equal(info.tls?.version, `TLSv${tlsMaxVersion}`);
            // Pure-FTPd 1.0.50 sends no TLS 1.3 session tickets at all (`openssl s_client
            // -tls1_3 -sess_out` receives none) and does not require reuse: nothing to resume.
            const resumable = !(kind === "pureftpd" && tlsMaxVersion === "1.3");
            assert.equal(info.tls.sessionReused, resumable, "data connections resume the session");
            assert.equal(info.fingerprint, server.certFingerprint);
          } finally {
            await connection.close();
          }
          assert.ok(!log.lines.join("\n").includes(server.users.password.password));
        });
      }

      void test("an untrusted certificate fails with TLS, its fingerprint and the fix", async () => {
        const server = get();
        await assert.rejects(
          dial(server, { tls: "explicit", caFile: undefined }),
          isCode(
            "TLS",
            new RegExp(
              `${server.certFingerprint ?? "?"}.*--set tlsTrust=fingerprint --set tlsFingerprint=`,
              "s",
            ),
          ),
        );
      });

      void test("tlsTrust=fingerprint trusts exactly that certificate; a client certificate is sent", async () => {
        const server = get();
        const { connection } = await dial(server, {
          tls: "explicit",
          caFile: undefined,
          tlsTrust: "fingerprint",
          tlsFingerprint: server.certFingerprint,
          clientCert: server.clientCert?.certFile,
          clientKey: server.clientCert?.keyFile,
        });
        await names(connection, connection.root);
        await connection.close();
        const other = "AA:".repeat(31) + "AA";
        await assert.rejects(
          dial(server, {
            tls: "explicit",
            caFile: undefined,
            tlsTrust: "fingerprint",
            tlsFingerprint: other,
          }),
          isCode("TLS", /does not match tlsFingerprint/),
        );
      });

      void test("keep-alive NOOPs during a slow upload on a real server", async () => {
        const { connection, log } = await dial(get(), { keepAlive: 1 });
        async function* slow() {
          for (let i = 0; i < 5; i++) {
            await sleep(500);
            yield Buffer.alloc(1000, i);
          }
        }
        try {
          const path = `${connection.root}/slow.bin`;
          assert.equal(await connection.write(path, Readable.from(slow())), 5000);
          assert.equal(
            (await connection.stat(path)).size,
            5000,
            "control connection still in step",
          );
          assert.ok(
            log.lines.some((line) => / > NOOP$/.test(line)),
            "NOOPs were sent",
          );
          await connection.remove(path);
        } finally {
          await connection.close();
        }
      });
    }

    if (kind === "vsftpd") {
      void test("vsftpd require_ssl_reuse: without session reuse the data connection fails with TLS (522)", async () => {
        const { connection } = await dial(get(), { tls: "explicit", tlsSessionReuse: false });
        try {
          await assert.rejects(names(connection, connection.root), isCode("TLS", /522|reuse/));
        } finally {
          await connection.close();
        }
      });
    }

    if (kind === "proftpd") {
      void test("clearControl: CCC after login, data stays protected", async () => {
        const { connection, log } = await dial(get(), { tls: "explicit", clearControl: true });
        try {
          await connection.write(
            `${connection.root}/ccc.bin`,
            Readable.from([Buffer.from("clear")]),
          );
          assert.equal(
            (await readAll(await connection.read(`${connection.root}/ccc.bin`, 0))).toString(),
            "clear",
          );
          assert.equal(connection.info().tls?.sessionReused, true);
          assert.match(log.lines.join("\n"), /> CCC\n.*< 200/);
        } finally {
          await connection.close();
        }
      });
    }

    if (kind === "vsftpd") {
      void test("protectData=false: PROT C, clear data under a TLS control connection", async () => {
        const { connection, log } = await dial(get(), { tls: "explicit", protectData: false });
        try {
          await connection.write(`${connection.root}/c.txt`, Readable.from([Buffer.from("clear")]));
          assert.equal(
            (await readAll(await connection.read(`${connection.root}/c.txt`, 0))).toString(),
            "clear",
          );
          assert.match(log.lines.join("\n"), /> PROT C/);
          assert.equal(
            connection.info().tls?.sessionReused,
            undefined,
            "no TLS on data connections",
          );
        } finally {
          await connection.close();
        }
      });
    }

    if (kind === "vsftpd-active") {
      void test("activePorts: the listener takes a port from the range", async () => {
        const { connection, log } = await dial(get(), { activePorts: "40100-40110" });
        try {
          await names(connection, connection.root);
          const port = /> PORT 127,0,0,1,(\d+),(\d+)/.exec(log.lines.join("\n"));
          assert.ok(port, "PORT sent");
          const number = Number(port[1]) * 256 + Number(port[2]);
          assert.ok(number >= 40_100 && number <= 40_110, `port ${String(number)} in range`);
        } finally {
          await connection.close();
        }
      });
    }

    if (kind === "proftpd" || kind === "pureftpd") {
      void test("list=list forces LIST (with -a) on an MLSD server; transferType=ascii", async () => {
        const { connection, log } = await dial(get(), { list: "list", transferType: "ascii" });
        try {
          const path = `${connection.root}/.text`;
          await connection.write(path, Readable.from([Buffer.from("a\nb\n")]));
          assert.ok((await names(connection, connection.root)).has(".text"));
          const text = log.lines.join("\n");
          assert.match(text, /> LIST -a/);
          assert.doesNotMatch(text, /> MLSD/);
          assert.match(text, /> TYPE A/);
          assert.ok((await connection.stat(path)).size >= 4, "SIZE works (binary mode around it)");
          assert.equal(
            (await readAll(await connection.read(path, 0))).toString().replace(/\r/g, ""),
            "a\nb\n",
          );
          await connection.remove(path);
        } finally {
          await connection.close();
        }
      });
    }

    if (kind === "vsftpd" || kind === "proftpd" || kind === "pureftpd") {
      // All three refuse REST in ASCII mode (vsftpd `550 No support for resume of ASCII
      // transfer`, ProFTPD `501 REST: Resuming transfers not allowed in ASCII mode`, Pure-FTPd
      // `503 ASCII resume is unsafe`): rangedRead is false there, and an offset is read past.
      void test("transferType=ascii: a read with an offset sends no REST and skips locally", async () => {
        const server = get();
        const { connection, log } = await dial(server, { transferType: "ascii" });
        try {
          await diagnosed(server, log, async () => {
            assert.equal(connection.features.rangedRead, false);
            const path = `${connection.root}/offset.txt`;
            await connection.write(path, Readable.from([Buffer.from("line1\nline2\nline3\n")]));
            const whole = await readAll(await connection.read(path, 0));
            assert.ok(whole.length >= 18, "the whole text");
            assert.deepEqual(await readAll(await connection.read(path, 8)), whole.subarray(8));
            assert.deepEqual(
              await readAll(await connection.read(path, 8, 4)),
              whole.subarray(8, 12),
            );
            assert.equal((await readAll(await connection.read(path, 1000))).length, 0);
            assert.doesNotMatch(log.lines.join("\n"), /> REST/);
            assert.equal(await connection.alive(), true);
            await connection.remove(path);
          });
        } finally {
          await connection.close();
        }
      });
    }

    if (kind === "proftpd") {
      void test("SITE UTIME, both forms (used where MFMT is missing)", async () => {
        const server = get();
        const log = new MemoryProtocolLog();
        const control = new Control(0, log, createNameCodec("utf8"), 10_000);
        const file = join(server.users.password.home, "utime.txt");
        await writeFile(file, "x");
        const home = await stat(server.users.password.home);
        await chown(file, home.uid, home.gid); // utime() needs the owner
        try {
          control.attach(
            await connectTcp({
              host: server.host,
              port: server.port,
              ipFamily: "auto",
              timeoutMs: 5_000,
              purpose: "test",
            }),
          );
          await control.greeting();
          await control.request("USER", server.users.password.name);
          await control.expect("PASS", server.users.password.password, "Logging in");
          for (const [method, iso] of [
            ["SITE UTIME 5", "2001-02-03T04:05:06.000Z"],
            ["SITE UTIME", "2002-03-04T05:06:07.000Z"],
          ] as const) {
            await setMtime(control, [method], file, new Date(iso));
            assert.equal((await readMtime(control, file))?.toISOString(), iso, method);
          }
        } finally {
          control.close();
        }
      });
    }

    if (kind === "vsftpd-limit") {
      void test("421 too many connections is LIMIT, retriable", async () => {
        const first = await dial(get());
        const second = await dial(get());
        try {
          await assert.rejects(
            dial(get()),
            (error: unknown) => isStorageError(error, "LIMIT") && isRetriable(error),
          );
        } finally {
          await first.connection.close();
          await second.connection.close();
        }
      });
    }

    if (kind === "pureftpd") {
      void test("a listing Pure-FTPd truncates is a PROTOCOL error", async () => {
        const server = get();
        const { connection } = await dial(server);
        try {
          const dir = `${connection.root}/many`;
          await connection.mkdir(dir);
          const local = join(server.users.password.home, "many");
          for (let i = 0; i < 10_050; i++) await writeFile(join(local, `f${String(i)}`), "");
          const iterate = async () => {
            await drain(connection.list(dir));
          };
          await assert.rejects(
            iterate(),
            isCode("PROTOCOL", /listing truncated.*Output truncated to 10000/s),
          );
          assert.equal(connection.features.listLimit, 9_997);
        } finally {
          await connection.close();
        }
      });
    }
  });
}
