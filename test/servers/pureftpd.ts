// Pure-FTPd 1.0.50 from Debian, unpacked into .servers/pureftpd. One virtual user from a
// PureDB file; explicit TLS optional (-Y 1). Configured entirely by command-line flags.
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { makeCerts } from "./certs.ts";
import {
  cryptHash,
  inServerDir,
  makeHome,
  reservePort,
  reservePortRange,
  spawnFtpServer,
} from "./ftp-setup.ts";
import type { RunningServer } from "./harness.ts";
import { SERVERS_DIR, binaryUnavailable, mustRun } from "./runtime.ts";
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
  return inServerDir(kind, async (dir, ports) => {
    const certs = await makeCerts(dir);
    const user = users.pass;
    const home = await makeHome(dir, user);
    const port = await reservePort(ports);
    // Pure-FTPd caps the client count at half the passive range: 40 ports -> 20 clients.
    const pasv = await reservePortRange(ports, 40);

    // PureDB user. We write the text file ourselves instead of `pure-pw useradd`: that one
    // hashes with argon2id at a cost that makes every login take about a second, and appends
    // "/./" to the home (chroot). crypt()'s $6$ is accepted too.
    const hash = await cryptHash(user.password);
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
    return spawnFtpServer({
      kind,
      cmd: BIN,
      args,
      dir,
      ports,
      port,
      logFile,
      user,
      home,
      certs,
      pasv,
    });
  });
}
