// Pure-FTPd 1.0.50 from Debian, unpacked into .servers/pureftpd. One virtual user from a
// PureDB file; explicit TLS optional (-Y 1). Configured entirely by command-line flags.
import { chown, mkdir, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { makeCerts } from "./certs.ts";
import type { RunningServer } from "./harness.ts";
import {
  SERVERS_DIR,
  binaryUnavailable,
  freePort,
  freePortRange,
  makeServerDir,
  mustRun,
  releasePorts,
} from "./runtime.ts";
import { spawnServer, waitForGreeting } from "./spawn.ts";
import { ensureSystemUsers } from "./users.ts";

const ROOT = path.join(SERVERS_DIR, "pureftpd");
const BIN = path.join(ROOT, "usr/sbin/pure-ftpd");
const PURE_PW = path.join(ROOT, "usr/bin/pure-pw");

export async function pureftpdUnavailable(): Promise<string | undefined> {
  // `pure-ftpd --help` prints the options and exits; we only look for linker errors.
  return (
    (await binaryUnavailable(BIN, ["--help"])) ?? (await binaryUnavailable(PURE_PW, ["--help"]))
  );
}

export async function startPureftpd(): Promise<RunningServer> {
  const kind = "pureftpd";
  const users = await ensureSystemUsers();
  const dir = await makeServerDir(kind);
  const ports: number[] = [];
  try {
    const certs = await makeCerts(dir);
    const user = users.pass;
    const home = path.join(dir, "home", user.name);
    await mkdir(home, { recursive: true, mode: 0o755 });
    await chown(home, user.uid, user.gid);
    const port = await freePort();
    ports.push(port);
    // Pure-FTPd caps the client count at half the passive range: 40 ports -> 20 clients.
    const pasv = await freePortRange(40);
    for (let p = pasv[0]; p <= pasv[1]; p++) ports.push(p);

    // PureDB user. We write the text file ourselves instead of `pure-pw useradd`: that one
    // hashes with argon2id at a cost that makes every login take about a second, and appends
    // "/./" to the home (chroot). crypt()'s $6$ is accepted too.
    const hash = (
      await mustRun("openssl", ["passwd", "-6", "-stdin"], { input: user.password + "\n" })
    ).trim();
    const passwdFile = path.join(dir, "pureftpd.passwd");
    const pdbFile = path.join(dir, "pureftpd.pdb");
    await writeFile(
      passwdFile,
      `${user.name}:${hash}:${user.uid}:${user.gid}::${home}::::::::::::\n`,
      { mode: 0o600 },
    );
    await mustRun(PURE_PW, ["mkdb", pdbFile, "-f", passwdFile]);

    const logFile = path.join(dir, "pureftpd.log");
    const args = [
      ...["--bind", `127.0.0.1,${port}`],
      "--ipv4only",
      ...["--passiveportrange", `${pasv[0]}:${pasv[1]}`],
      ...["--forcepassiveip", "127.0.0.1"],
      ...["--login", `puredb:${pdbFile}`],
      "--noanonymous",
      // 1 = TLS optional (explicit AUTH TLS), cleartext logins still allowed
      ...["--tls", "1"],
      ...["--certfile", certs.combinedFile],
      ...["--altlog", `clf:${path.join(dir, "xfer.log")}`],
      ...["--pidfile", path.join(dir, "pure-ftpd.pid")],
      "--dontresolve",
      ...["--maxclientsnumber", "20"],
      ...["--maxclientsperip", "20"],
      ...["--maxidletime", "15"],
      ...["--umask", "133:022"],
      ...["--minuid", "1"],
      "--verboselog",
    ];
    const server = await spawnServer({ cmd: BIN, args, logFile, dirs: [dir], ports });
    await waitForGreeting({ kind, port, proto: "ftp", server, logFile });
    return {
      kind,
      host: "127.0.0.1",
      port,
      pid: server.pid,
      users: { password: { name: user.name, password: user.password, home } },
      caFile: certs.caFile,
      certFingerprint: certs.fingerprint,
      clientCert: { certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
      pasvPortRange: pasv,
      logFile,
      stop: server.stop,
    };
  } catch (e) {
    releasePorts(ports);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
