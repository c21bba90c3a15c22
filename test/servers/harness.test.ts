// Starts every kind of real test server, talks to it over a raw socket (greeting, login, TLS,
// server-specific behaviour), stops it and checks that its process is gone.
// Run: npx node --test test/servers/harness.test.ts   (after `bash test/servers/install.sh`)
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, readFile } from "node:fs/promises";
import * as net from "node:net";
import * as tls from "node:tls";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import {
  ALL_SERVER_KINDS,
  startServer,
  unavailableReason,
  type RunningServer,
  type ServerKind,
} from "./harness.ts";
import { Control } from "./ftp-control.ts";

function fingerprintOf(sock: tls.TLSSocket): string {
  return sock.getPeerCertificate().fingerprint256;
}

async function checkFtp(s: RunningServer): Promise<void> {
  const implicit = s.kind === "vsftpd-implicit";
  const ca = s.caFile === undefined ? undefined : await readFile(s.caFile, "utf8");
  const c = await Control.connect(s.port, implicit && ca !== undefined ? { ca } : undefined);
  try {
    assert.equal((await c.reply()).code, 220);
    if (implicit) {
      assert.ok(c.sock instanceof tls.TLSSocket);
      assert.equal(fingerprintOf(c.sock), s.certFingerprint);
      await c.login(s.users.password); // over TLS from the first byte
      return;
    }
    await c.login(s.users.password); // plain-text login is allowed on all the others
    const feat = (await c.send("FEAT")).text;
    if (s.kind === "proftpd") {
      assert.match(feat, /^ MFMT$/m);
      assert.match(feat, /^ MLST /m); // MLST in FEAT means MLST + MLSD (RFC 3659)
      assert.match(feat, /^ SITE UTIME$/m);
    }
    if (s.kind === "pureftpd") assert.match(feat, /^ MLSD$/m);
    if (s.kind === "vsftpd-active") {
      const pasv = await c.send("PASV");
      assert.ok(pasv.code >= 500, `PASV must be refused: ${pasv.text}`);
    }
    if (ca !== undefined) {
      // explicit TLS on a fresh connection, server certificate checked against the CA
      const t = await Control.connect(s.port);
      try {
        assert.equal((await t.reply()).code, 220);
        assert.equal((await t.send("AUTH TLS")).code, 234);
        assert.equal(fingerprintOf(await t.upgrade(ca)), s.certFingerprint);
        await t.login(s.users.password);
      } finally {
        t.close();
      }
    }
    if (s.kind === "vsftpd-limit") {
      // our session is #1; #2 is accepted, #3 is turned away
      const second = await Control.connect(s.port);
      const third = await Control.connect(s.port);
      try {
        assert.equal((await second.reply()).code, 220);
        const r = await third.reply();
        assert.equal(r.code, 421);
        assert.match(r.text, /too many connections from your internet address/);
      } finally {
        second.close();
        third.close();
      }
    }
    assert.equal((await c.send("QUIT")).code, 221);
  } finally {
    c.close();
  }
}

async function sshBanner(port: number): Promise<string> {
  const sock = net.connect({ host: "127.0.0.1", port });
  sock.setEncoding("utf8");
  let buf = "";
  try {
    for await (const chunk of sock) {
      buf += String(chunk);
      if (buf.includes("\n")) break;
    }
  } finally {
    sock.destroy();
  }
  return buf;
}

/** Logs in with ssh2 and runs `fn` with an SFTP session; rejects on auth failure. */
function withSftp<T>(
  cfg: ConnectConfig,
  fn: (sftp: SFTPWrapper, conn: Client) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const conn = new Client();
    conn.on("error", reject);
    conn.on("ready", () => {
      conn.sftp((err, sftp) => {
        if (err) {
          reject(err);
          return;
        }
        fn(sftp, conn)
          .then(resolve, reject)
          .finally(() => {
            conn.end();
          });
      });
    });
    conn.connect({ host: "127.0.0.1", readyTimeout: 10_000, ...cfg });
  });
}

async function checkOpenssh(s: RunningServer): Promise<void> {
  assert.match(await sshBanner(s.port), /^SSH-2\.0-OpenSSH/);
  const { password, key, chroot } = s.users;
  assert.ok(key?.privateKeyPath && key.encryptedKeyPath && key.passphrase && chroot);
  const port = s.port;
  // the harness's fingerprint must match the key the server presents
  const hostVerifier = (k: Buffer): boolean =>
    s.hostKeyFingerprint ===
    "SHA256:" + createHash("sha256").update(k).digest("base64").replace(/=+$/, "");
  const base = { port, hostVerifier };
  const realpath = (sftp: SFTPWrapper): Promise<string> =>
    new Promise((res, rej) => {
      sftp.realpath(".", (e, p) => {
        if (e) rej(e);
        else res(p);
      });
    });

  assert.equal(
    await withSftp({ ...base, username: password.name, password: password.password }, realpath),
    password.home,
  );
  const plainKey = await readFile(key.privateKeyPath);
  assert.equal(
    await withSftp({ ...base, username: key.name, privateKey: plainKey }, realpath),
    key.home,
  );
  const encKey = await readFile(key.encryptedKeyPath);
  assert.equal(
    await withSftp(
      { ...base, username: key.name, privateKey: encKey, passphrase: key.passphrase },
      realpath,
    ),
    key.home,
  );
  await assert.rejects(
    withSftp({ ...base, username: key.name, password: key.password }, realpath),
    /authentication methods failed/,
  );
  const chrootView = await withSftp(
    { ...base, username: chroot.name, password: chroot.password },
    async (sftp, conn) => {
      const cwd = await realpath(sftp);
      const names = await new Promise<string[]>((res, rej) => {
        sftp.readdir("/", (e, l) => {
          if (e) rej(e);
          else res(l.map((x) => x.filename));
        });
      });
      await new Promise<void>((res, rej) => {
        sftp.writeFile("/upload/probe.txt", "ok", (e) => {
          if (e) rej(e);
          else res();
        });
      });
      // no shell: exec is answered by the forced internal-sftp, which never runs the command
      const out = await new Promise<string>((res) => {
        conn.exec("echo SHELL-WORKED", (e, ch) => {
          if (e) {
            res(`exec refused: ${e.message}`);
            return;
          }
          let o = "";
          ch.on("data", (d: Buffer) => (o += d.toString()));
          ch.stderr.on("data", (d: Buffer) => (o += d.toString()));
          ch.on("close", () => {
            res(o);
          });
        });
      });
      return { cwd, names, out };
    },
  );
  assert.equal(chrootView.cwd, "/");
  assert.deepEqual(chrootView.names, ["upload"]);
  assert.doesNotMatch(chrootView.out, /SHELL-WORKED/);
  assert.equal(await readFile(`${chroot.home}/upload/probe.txt`, "utf8"), "ok");

  const exec = promisify(execFile);
  const scan = await exec("sh", [
    "-c",
    `ssh-keyscan -p ${port} -t ed25519 127.0.0.1 2>/dev/null | ssh-keygen -lf - -E sha256`,
  ]);
  assert.ok(scan.stdout.includes(s.hostKeyFingerprint ?? "?"), scan.stdout);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

void describe("real test servers", () => {
  for (const kind of ALL_SERVER_KINDS) {
    void test(kind, async (t) => {
      const reason = await unavailableReason(kind);
      if (reason !== undefined) {
        // A skipped real server fails CI; elsewhere it is skipped with the reason printed.
        if (process.env.CI) assert.fail(`the ${kind} server was skipped: ${reason}`);
        t.skip(reason);
        return;
      }
      const s = await startServer(kind);
      try {
        assert.equal(s.kind, kind satisfies ServerKind);
        assert.equal(s.host, "127.0.0.1");
        assert.ok(pidAlive(s.pid));
        if (kind === "openssh") await checkOpenssh(s);
        else await checkFtp(s);
      } catch (e) {
        t.diagnostic(`--- ${s.logFile} ---\n${await readFile(s.logFile, "utf8").catch(() => "")}`);
        throw e;
      } finally {
        await s.stop();
      }
      await s.stop(); // idempotent
      assert.equal(pidAlive(s.pid), false, `pid ${s.pid} still alive after stop()`);
      await assert.rejects(access(s.logFile), "temp dir removed");
    });
  }
});
