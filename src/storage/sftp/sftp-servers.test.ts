/**
 * The SFTP adapter against a real OpenSSH server (test/servers/harness.ts): password, key,
 * passphrase-key, agent and chrooted sftp-only users; host key trust; failures a person must be
 * able to act on; faults injected between client and server. Skipped, with the reason, when the
 * server cannot run here; failed instead when CI is set.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { storageConformance } from "../../../test/conformance/storage-suite.ts";
import { startFaultProxy } from "../../../test/fault-proxy.ts";
import {
  startServer,
  unavailableReason,
  type RunningServer,
  type TestUser,
} from "../../../test/servers/harness.ts";
import { isStorageError, type StorageErrorCode } from "../errors.ts";
import { FileStorage } from "../file-storage.ts";
import { ConnectionPool } from "../pool.ts";
import type { ProtocolConnection } from "../protocol.ts";
import type { Direction, ProtocolLog } from "../protocol-log.ts";
import { parseSettings, type SftpSettings } from "../settings.ts";
import { withRetry } from "../wrappers/retry.ts";
import { SftpConnection } from "./connection.ts";
import { createSftpDialer } from "./dialer.ts";

const run = promisify(execFile);

/** Records raw lines (before masking) and the secrets it was given. */
class RecordingLog implements ProtocolLog {
  readonly lines: string[] = [];
  readonly secrets = new Set<string>();
  write(connection: number, direction: Direction, line: string): void {
    this.lines.push(`#${String(connection)} ${direction} ${line}`);
  }
  addSecret(secret: string | undefined): void {
    if (secret !== undefined) this.secrets.add(secret);
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: StorageErrorCode,
  ...patterns: (RegExp | string)[]
): Promise<Error> {
  let caught: Error | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isStorageError(error), `expected a StorageError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const pattern of patterns) {
      if (typeof pattern === "string")
        assert.ok(error.message.includes(pattern), `"${pattern}" not in: ${error.message}`);
      else assert.match(error.message, pattern);
    }
    caught = error;
    return true;
  });
  return caught ?? new Error("unreachable");
}

/**
 * mkdir / write 4 MiB / stat / list / ranged read / rename over an existing object / setMtime /
 * freeSpace / remove, on one connection, in a fresh directory under its root.
 */
async function roundTrip(connection: ProtocolConnection): Promise<void> {
  const dir = `${connection.root}/rt-${randomBytes(4).toString("hex")}`;
  await connection.mkdir(dir);
  await rejectsWith(connection.mkdir(dir), "EXISTS");
  await rejectsWith(connection.mkdir(`${dir}/absent/child`), "NOT_FOUND");

  const data = randomBytes(4 << 20);
  assert.equal(await connection.write(`${dir}/a`, Readable.from([data])), data.length);
  const stat = await connection.stat(`${dir}/a`);
  assert.equal(stat.type, "file");
  assert.equal(stat.size, data.length);
  assert.equal(stat.name, "a");
  assert.ok(stat.mtime && Math.abs(stat.mtime.getTime() - Date.now()) < 120_000);
  assert.equal((await connection.stat(dir)).type, "directory");
  await rejectsWith(connection.stat(`${dir}/absent`), "NOT_FOUND");

  const listed = [];
  for await (const entry of connection.list(dir)) listed.push(entry);
  assert.deepEqual(
    listed.map((e) => [e.name, e.type, e.size]),
    [["a", "file", data.length]],
  );

  assert.ok((await readAll(await connection.read(`${dir}/a`, 0))).equals(data));
  const slice = await readAll(await connection.read(`${dir}/a`, 1_000_003, 777_777));
  assert.ok(slice.equals(data.subarray(1_000_003, 1_000_003 + 777_777)));
  const tail = await readAll(await connection.read(`${dir}/a`, data.length - 10, 1000));
  assert.ok(tail.equals(data.subarray(data.length - 10)), "a short object yields fewer bytes");
  await rejectsWith(connection.read(`${dir}/absent`, 0), "NOT_FOUND");

  const other = randomBytes(1000);
  await connection.write(`${dir}/b`, Readable.from([other]));
  await connection.rename(`${dir}/a`, `${dir}/b`);
  assert.equal((await connection.stat(`${dir}/b`)).size, data.length, "rename replaced the target");
  await rejectsWith(connection.stat(`${dir}/a`), "NOT_FOUND");
  await rejectsWith(connection.rename(`${dir}/a`, `${dir}/c`), "NOT_FOUND");

  const mtime = new Date("2001-02-03T04:05:06Z");
  await connection.setMtime(`${dir}/b`, mtime);
  assert.equal((await connection.stat(`${dir}/b`)).mtime?.getTime(), mtime.getTime());

  const space = await connection.freeSpace(dir);
  assert.ok(
    space && space.available > 0 && (space.total ?? 0) >= space.available,
    JSON.stringify(space),
  );
  assert.equal(space.source, "statvfs@openssh.com");

  await rejectsWith(connection.removeDir(dir), "PROTOCOL"); // not empty: OpenSSH says FAILURE
  await connection.remove(`${dir}/b`);
  await rejectsWith(connection.remove(`${dir}/b`), "NOT_FOUND");
  await connection.removeDir(dir);
  await rejectsWith(connection.removeDir(dir), "NOT_FOUND");
  assert.equal(await connection.alive(), true);
}

const reason = await unavailableReason("openssh");

if (reason !== undefined && process.env.CI) {
  it("the OpenSSH test server runs (required in CI)", () => {
    assert.fail(`OpenSSH test server unavailable: ${reason}`);
  });
} else if (reason !== undefined) {
  describe(
    "sftp adapter against OpenSSH",
    { skip: `OpenSSH test server unavailable: ${reason}` },
    () => {
      it("is skipped");
    },
  );
} else {
  let server: RunningServer;
  const log = new RecordingLog();
  before(async () => {
    server = await startServer("openssh");
  });
  after(async () => {
    await server.stop();
  });

  const settings = (user: TestUser, extra: Record<string, unknown> = {}): SftpSettings =>
    parseSettings({
      type: "sftp",
      host: server.host,
      port: server.port,
      user: user.name,
      hostKey: server.hostKeyFingerprint,
      connectTimeout: 20,
      ...extra,
    }) as SftpSettings;
  const dial = (s: SftpSettings) => createSftpDialer(s, log).dial();
  const withConnection = async (
    s: SftpSettings,
    task: (c: ProtocolConnection) => Promise<void> | void,
  ) => {
    const connection = await dial(s);
    try {
      await task(connection);
    } finally {
      await connection.close();
    }
  };

  describe("sftp adapter against OpenSSH", () => {
    it("password user: round trip in the login directory, info and protocol log", async () => {
      const user = server.users.password;
      await withConnection(settings(user, { password: user.password }), async (connection) => {
        assert.equal(connection.root, user.home);
        const info = connection.info();
        assert.equal(info.protocol, "sftp");
        assert.match(info.banner ?? "", /^SSH-2\.0-OpenSSH_/);
        assert.equal(info.fingerprint, server.hostKeyFingerprint);
        assert.equal(info.tls?.version, "SSH-2.0");
        assert.ok(info.features?.includes("posix-rename@openssh.com"));
        assert.deepEqual(connection.features, {
          atomicReplace: true,
          setMtime: true,
          freeSpace: true,
          rangedRead: true,
        });
        await roundTrip(connection);
      });
      const mine = log.lines.join("\n");
      assert.match(mine, /\* connected SSH-2\.0-OpenSSH_\S+.*, cipher \S+/);
      assert.match(mine, /> OPEN \S+\/a write,create,truncate/);
      assert.match(mine, /> POSIX-RENAME /);
      assert.match(mine, /< STATUS NO_SUCH_FILE/);
    });

    it("resolves x and ./x against the login directory, /x as absolute, and does not create it", async () => {
      const user = server.users.password;
      for (const [path, root] of [
        ["backups/b1", `${user.home}/backups/b1`],
        ["./b2/", `${user.home}/b2`],
        ["/tmp", "/tmp"],
      ] as const) {
        await withConnection(
          settings(user, { password: user.password, path }),
          async (connection) => {
            assert.equal(connection.root, root);
            if (path !== "/tmp") await rejectsWith(connection.stat(connection.root), "NOT_FOUND");
          },
        );
      }
    });

    it("key user: plain key, passphrase key, and agent", async () => {
      const user = server.users.key;
      assert.ok(user?.privateKeyPath && user.encryptedKeyPath && user.passphrase);
      await withConnection(settings(user, { privateKey: user.privateKeyPath }), roundTrip);
      await withConnection(
        settings(user, { privateKey: user.encryptedKeyPath, passphrase: user.passphrase }),
        async (connection) => {
          assert.ok(connection.info().notes?.includes("login: key"));
          await roundTrip(connection);
        },
      );
      const agentDir = await mkdtemp(join(tmpdir(), "ferry-agent-"));
      const socket = join(agentDir, "agent.sock");
      const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
      try {
        for (let i = 0; i < 50; i++) {
          if (
            await run("test", ["-S", socket]).then(
              () => true,
              () => false,
            )
          )
            break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await run("ssh-add", [user.privateKeyPath], {
          env: { ...process.env, SSH_AUTH_SOCK: socket },
        });
        await withConnection(
          settings(user, { auth: "agent", agent: socket }),
          async (connection) => {
            assert.equal(await connection.alive(), true);
          },
        );
      } finally {
        agent.kill();
        await rm(agentDir, { recursive: true, force: true });
      }
    });

    it("chrooted sftp-only user: round trip in upload/, statvfs works, df has no shell", async () => {
      const user = server.users.chroot;
      assert.ok(user);
      await withConnection(
        settings(user, { password: user.password, path: "upload" }),
        async (connection) => {
          assert.equal(connection.root, "/upload");
          await roundTrip(connection);
          assert.ok(connection instanceof SftpConnection);
          assert.equal(await connection.dfFreeSpace(connection.root), undefined);
        },
      );
    });

    it("df over an exec channel for an account with a shell", async () => {
      const user = server.users.password;
      await withConnection(settings(user, { password: user.password }), async (connection) => {
        assert.ok(connection instanceof SftpConnection);
        const space = await connection.dfFreeSpace(connection.root);
        assert.equal(space?.source, "df");
        assert.ok(space.available > 0);
      });
    });

    it("sequentialWrites=true: one write at a time, same bytes", async () => {
      const user = server.users.password;
      await withConnection(
        settings(user, { password: user.password, sequentialWrites: true }),
        async (connection) => {
          const data = randomBytes((4 << 20) + 12_345);
          const path = `${connection.root}/sequential-${randomBytes(4).toString("hex")}`;
          assert.equal(await connection.write(path, Readable.from([data])), data.length);
          assert.ok((await readAll(await connection.read(path, 0))).equals(data));
          await connection.remove(path);
          assert.ok(log.lines.some((line) => line.includes(`WRITE ${path}: 1 × `)));
        },
      );
    });

    it("host key: missing, changed (both fingerprints), known_hosts (plain and hashed), insecure", async () => {
      const user = server.users.password;
      const fp = server.hostKeyFingerprint ?? "";
      await rejectsWith(
        dial(settings(user, { password: user.password, hostKey: undefined })),
        "HOST_KEY",
        "not trusted yet",
        `--set hostKey=${fp}`,
      );
      const wrong = `SHA256:${"A".repeat(43)}`;
      const changed = await rejectsWith(
        dial(settings(user, { password: user.password, hostKey: wrong })),
        "HOST_KEY",
        "CHANGED",
        wrong,
        fp,
      );
      assert.equal((changed as { retriable?: boolean }).retriable, false);

      const dir = await mkdtemp(join(tmpdir(), "ferry-kh-"));
      try {
        const scanned = (
          await run("ssh-keyscan", ["-t", "ed25519", "-p", String(server.port), server.host])
        ).stdout;
        const file = join(dir, "known_hosts");
        await writeFile(file, scanned);
        const known = (extra: Record<string, unknown>) =>
          settings(user, {
            password: user.password,
            hostKey: undefined,
            hostKeyTrust: "knownHosts",
            knownHostsFile: file,
            ...extra,
          });
        await withConnection(known({}), async (c) => {
          assert.equal(await c.alive(), true);
        });
        await run("ssh-keygen", ["-H", "-f", file]);
        await withConnection(known({}), (c) => {
          assert.equal(c.info().fingerprint, fp);
        });
        await writeFile(
          file,
          `# nothing for this host\nexample.net ${scanned.trim().split(/\s+/).slice(1).join(" ")}\n`,
        );
        await rejectsWith(dial(known({})), "HOST_KEY", `not in ${file}`, fp);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }

      await withConnection(
        settings(user, { password: user.password, hostKey: undefined, hostKeyTrust: "insecure" }),
        (c) => {
          assert.equal(c.info().fingerprint, fp);
        },
      );
      assert.ok(
        log.lines.some((line) =>
          line.includes("hostKeyTrust=insecure: the host key was NOT verified"),
        ),
      );
    });

    it("refused logins say what to fix (AUTH, not retried)", async () => {
      const pass = server.users.password;
      const key = server.users.key;
      assert.ok(key?.encryptedKeyPath);
      const wrongPassword = "not-the-password-9";
      const refused = await rejectsWith(
        dial(settings(pass, { password: wrongPassword })),
        "AUTH",
        `"${pass.name}"`,
        "password",
      );
      assert.equal((refused as { retriable?: boolean }).retriable, false);
      assert.ok(!refused.message.includes(wrongPassword));
      await rejectsWith(
        dial(settings(key, { password: key.password })),
        "AUTH",
        "does not accept passwords",
        "publickey",
      );
      await rejectsWith(
        dial(settings(key, { privateKey: key.encryptedKeyPath })),
        "AUTH",
        "a passphrase is needed",
      );
      await rejectsWith(
        dial(settings(key, { privateKey: key.encryptedKeyPath, passphrase: "wrong-passphrase-7" })),
        "AUTH",
        "passphrase is probably wrong",
      );
      await rejectsWith(
        dial(settings(pass, { privateKey: key.privateKeyPath })),
        "AUTH",
        "authorized_keys",
      );
      await rejectsWith(dial(settings(pass, {})), "INVALID", "needs a password");
      await rejectsWith(
        dial(settings(pass, { auth: "agent", agent: "/nonexistent/agent.sock" })),
        "INVALID",
        "/nonexistent/agent.sock",
      );
      assert.ok(log.secrets.has(wrongPassword), "the password is registered as a secret");
      assert.ok(log.secrets.has("wrong-passphrase-7"), "the passphrase is registered as a secret");
    });

    it("connection failures: refused port (CONNECTION), silent server (TIMEOUT), bad algorithm (INVALID)", async () => {
      const user = server.users.password;
      const closed = await startFaultProxy({ host: server.host, port: server.port });
      closed.rules.refuse = 1;
      await rejectsWith(
        dial(settings(user, { password: user.password, port: closed.port })),
        "CONNECTION",
      );
      closed.rules.faults.push({ action: "stall", direction: "down", after: 0 });
      const started = Date.now();
      await rejectsWith(
        dial(settings(user, { password: user.password, port: closed.port, connectTimeout: 2 })),
        "TIMEOUT",
        "connectTimeout",
      );
      assert.ok(Date.now() - started < 8000);
      await closed.close();
      await rejectsWith(
        dial(settings(user, { password: user.password, algorithms: { cipher: ["rot13"] } })),
        "INVALID",
        "rot13",
      );
      await rejectsWith(
        dial(settings(user, { password: user.password, algorithms: { cipher: ["3des-cbc"] } })),
        "PROTOCOL",
        "no matching",
      );
    });

    it("a session dropped mid-read errors the stream; a stalled one times out (idleTimeout)", async () => {
      const user = server.users.password;
      const proxy = await startFaultProxy({ host: server.host, port: server.port });
      try {
        const s = settings(user, { password: user.password, port: proxy.port, idleTimeout: 2 });
        await withConnection(s, async (connection) => {
          const path = `${connection.root}/drop-${randomBytes(4).toString("hex")}`;
          await connection.write(path, Readable.from([randomBytes(16 << 20)]));
          const reset = { action: "reset", direction: "down", after: 2 << 20 } as const;
          proxy.rules.faults.push(reset);
          await rejectsWith(readAll(await connection.read(path, 0)), "CONNECTION");
          assert.equal(proxy.hits(reset), 1);
          assert.equal(await connection.alive(), false);
        });
        await withConnection(s, async (connection) => {
          const path = `${connection.root}/stall-${randomBytes(4).toString("hex")}`;
          await connection.write(path, Readable.from([randomBytes(16 << 20)]));
          proxy.rules.faults.push({ action: "stall", direction: "down", after: 1 << 20 });
          const started = Date.now();
          await rejectsWith(readAll(await connection.read(path, 0)), "TIMEOUT", "idleTimeout");
          assert.ok(Date.now() - started < 10_000);
        });
        proxy.rules.faults.length = 0;
        await withConnection(settings(user, { password: user.password }), async (connection) => {
          for await (const entry of connection.list(connection.root)) {
            if (/^(drop|stall)-/.test(entry.name))
              await connection.remove(`${connection.root}/${entry.name}`);
          }
        });
      } finally {
        await proxy.close();
      }
    });

    it("keepAlive notices a dead connection while it is idle", async () => {
      const user = server.users.password;
      const proxy = await startFaultProxy({ host: server.host, port: server.port });
      try {
        const connection = await dial(
          settings(user, { password: user.password, port: proxy.port, keepAlive: 1 }),
        );
        try {
          proxy.rules.faults.push({ action: "stall", direction: "down", after: 0 });
          // ssh2: keepaliveInterval 1 s, keepaliveCountMax 3 → lost after about 4 s of silence.
          await new Promise((resolve) => setTimeout(resolve, 5500));
          const started = Date.now();
          assert.equal(await connection.alive(), false);
          assert.ok(Date.now() - started < 500, "known dead without a new request");
          assert.ok(log.lines.some((line) => line.includes("stopped answering keepalives")));
        } finally {
          await connection.close();
        }
      } finally {
        await proxy.close();
      }
    });

    it("connects through an HTTP CONNECT proxy (proxy) and honours ipFamily", async () => {
      const user = server.users.password;
      const requests: string[] = [];
      const proxy = createServer((client) => {
        client.once("data", (head: Buffer) => {
          const line = head.toString("latin1").split("\r\n")[0] ?? "";
          requests.push(line);
          const [host, port] = (line.split(" ")[1] ?? "").split(":");
          const upstream = connect(Number(port), host ?? "", () => {
            client.write("HTTP/1.1 200 Connection established\r\n\r\n");
            client.pipe(upstream).pipe(client);
          });
          upstream.on("error", () => client.destroy());
          client.on("error", () => upstream.destroy());
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = proxy.address() as AddressInfo;
        const viaProxy = settings(user, {
          password: user.password,
          proxy: `http://127.0.0.1:${String(port)}`,
        });
        await withConnection(viaProxy, async (connection) => {
          assert.equal(await connection.alive(), true);
        });
        assert.deepEqual(requests, [`CONNECT ${server.host}:${String(server.port)} HTTP/1.1`]);
      } finally {
        proxy.close();
      }
      await withConnection(
        settings(user, { password: user.password, host: "localhost", ipFamily: "ipv4" }),
        async (c) => {
          assert.equal(await c.alive(), true);
        },
      );
      // sshd listens on 127.0.0.1 only: over IPv6 "localhost" is ::1, which nobody serves.
      await assert.rejects(
        dial(settings(user, { password: user.password, host: "localhost", ipFamily: "ipv6" })),
      );
    });

    it("reuses one SFTP channel: 30 operations on one connection stay within MaxSessions", async () => {
      const user = server.users.password;
      await withConnection(settings(user, { password: user.password }), async (connection) => {
        for (let i = 0; i < 30; i++) {
          await connection.stat(connection.root);
          await readAll(await connection.read("/etc/hostname", 0)).catch(() => undefined);
        }
        assert.equal(await connection.alive(), true);
      });
    });

    it("close is idempotent and a closed connection is not alive", async () => {
      const user = server.users.password;
      const connection = await dial(settings(user, { password: user.password }));
      await connection.close();
      await connection.close();
      assert.equal(await connection.alive(), false);
      await rejectsWith(connection.stat("/"), "CONNECTION");
    });

    it("the protocol log never contains the password or the passphrase", () => {
      const secrets = [
        server.users.password.password,
        server.users.chroot?.password,
        server.users.key?.passphrase,
      ];
      for (const secret of secrets) {
        assert.ok(secret);
        assert.ok(
          !log.lines.some((line) => line.includes(secret)),
          `a log line contains ${secret.slice(0, 3)}…`,
        );
      }
      assert.ok(log.lines.length > 100);
    });
  });

  /** The backup directory of the storage last opened, on the server's disk. */
  let chrootDisk: string | undefined;
  const onChrootDisk = (key: string): string => {
    if (chrootDisk === undefined) throw new Error("no storage was opened");
    return join(chrootDisk, key);
  };
  storageConformance("sftp (OpenSSH, chrooted sftp-only user)", {
    open: async () => {
      const user = server.users.chroot;
      assert.ok(user);
      const path = `upload/conformance-${randomBytes(4).toString("hex")}`;
      chrootDisk = join(user.home, path);
      const dialer = createSftpDialer(settings(user, { password: user.password, path }), log);
      // openStorage's stack minus throttle and op log (they are not SFTP's concern).
      const pool = new ConnectionPool(dialer, { max: 4, log });
      return withRetry(new FileStorage(pool, await pool.acquire()), {
        maxRetries: 2,
        baseDelayMs: 50,
        log,
      });
    },
    rawNames: (dir) => readdir(onChrootDisk(dir)),
    rawWrite: (key, data) => writeFile(onChrootDisk(key), data),
  });
}
