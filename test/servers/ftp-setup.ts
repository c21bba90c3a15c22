// The steps vsftpd.ts, proftpd.ts and pureftpd.ts share when they start an FTP server: a temp
// dir cleaned up on failure, the user's home, the ports, a crypt() hash, spawning until the
// greeting, and the RunningServer they describe.
import { chown, mkdir, rm } from "node:fs/promises";
import * as path from "node:path";
import type { CertSet } from "./certs.ts";
import type { RunningServer } from "./harness.ts";
import { freePort, freePortRange, makeServerDir, mustRun, releasePorts } from "./runtime.ts";
import { spawnServer, waitForGreeting } from "./spawn.ts";
import type { SystemUser } from "./users.ts";

/**
 * Runs `setup` with a fresh server dir and an empty list to record the ports it reserves in;
 * when it fails, releases those ports and removes the dir.
 */
export async function inServerDir<T>(
  kind: string,
  setup: (dir: string, ports: number[]) => Promise<T>,
): Promise<T> {
  const dir = await makeServerDir(kind);
  const ports: number[] = [];
  try {
    return await setup(dir, ports);
  } catch (e) {
    releasePorts(ports);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** `user`'s login directory, dir/home/<name>: created (mode 755) and owned by the user. */
export async function makeHome(dir: string, user: SystemUser): Promise<string> {
  const home = path.join(dir, "home", user.name);
  await mkdir(home, { recursive: true, mode: 0o755 });
  await chown(home, user.uid, user.gid);
  return home;
}

/** A free port for the server to listen on, recorded in `ports`. */
export async function reservePort(ports: number[]): Promise<number> {
  const port = await freePort();
  ports.push(port);
  return port;
}

/** `count` consecutive free ports for passive data connections, recorded in `ports`. */
export async function reservePortRange(ports: number[], count: number): Promise<[number, number]> {
  const range = await freePortRange(count);
  for (let p = range[0]; p <= range[1]; p++) ports.push(p);
  return range;
}

/** crypt()'s SHA-512 ($6$) hash of `password`. */
export async function cryptHash(password: string): Promise<string> {
  return (await mustRun("openssl", ["passwd", "-6", "-stdin"], { input: password + "\n" })).trim();
}

/**
 * Spawns an FTP server (`cmd args`, output into `logFile`) that removes `dir` and releases
 * `ports` when stopped, waits for its greeting on `port`, and describes it.
 */
export async function spawnFtpServer(o: {
  kind: RunningServer["kind"];
  cmd: string;
  args: readonly string[];
  dir: string;
  ports: readonly number[];
  port: number;
  logFile: string;
  implicitTls?: boolean;
  user: SystemUser;
  home: string;
  certs: CertSet | undefined;
  pasv: [number, number] | undefined;
}): Promise<RunningServer> {
  const { kind, port, logFile, certs, pasv } = o;
  const server = await spawnServer({
    cmd: o.cmd,
    args: o.args,
    logFile,
    dirs: [o.dir],
    ports: o.ports,
  });
  await waitForGreeting({
    kind,
    port,
    proto: "ftp",
    implicitTls: o.implicitTls ?? false,
    server,
    logFile,
  });
  return {
    kind,
    host: "127.0.0.1",
    port,
    pid: server.pid,
    users: { password: { name: o.user.name, password: o.user.password, home: o.home } },
    ...(certs
      ? {
          caFile: certs.caFile,
          certFingerprint: certs.fingerprint,
          clientCert: { certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
        }
      : {}),
    ...(pasv ? { pasvPortRange: pasv } : {}),
    logFile,
    stop: server.stop,
  };
}
