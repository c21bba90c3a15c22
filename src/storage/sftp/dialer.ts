/**
 * The SFTP dialer: TCP through connectTcp (address family, proxy, connect timeout), the SSH
 * handshake with host key verification, login, one SFTP channel, and the backup directory
 * resolved against the login directory. connectTimeout [60 s] covers all of it.
 */
import { posix } from "node:path";
import type { Socket } from "node:net";
import ssh2, { type AuthenticationType, type ConnectConfig, type NegotiatedAlgorithms } from "ssh2";
import { StorageError } from "../errors.ts";
import { connectTcp } from "../net/connect.ts";
import type { Dialer, ProtocolConnection } from "../protocol.ts";
import type { ProtocolLog } from "../protocol-log.ts";
import type { SftpSettings } from "../settings.ts";
import { sshAlgorithms } from "./algorithms.ts";
import { authHandler, planAuth, refusalHint, type AuthPlan } from "./auth.ts";
import { SftpConnection } from "./connection.ts";
import { openSftp, startSsh } from "./handshake.ts";
import { type HostKeyVerdict, fingerprint, keyType, knownAlgorithms } from "./host-key.ts";
import { SftpSession } from "./session.ts";
import { coalesceWrites } from "./socket-writes.ts";
import { sftpDataLimits, sftpExtensions, useKeyObjects } from "./ssh2-internals.ts";
import { toStorageError } from "./status.ts";
import { readKnownHosts, verifyHostKey } from "./trust.ts";

/** Connection ids in the protocol log, unique in this process. */
let nextId = 1;

const DEFAULT_CONNECT_TIMEOUT_S = 60;
/**
 * Data in flight per transfer. Writes: the server's channel window (2 MiB on OpenSSH) is the
 * limit, more only queues in ssh2. Reads: twice ssh2's 2 MiB window keeps the server busy while
 * window adjustments travel (loopback, 256 MiB: 360 MB/s vs 295 MB/s with 2 MiB).
 */
const WRITE_WINDOW = 2 * 1024 * 1024;
const READ_WINDOW = 4 * 1024 * 1024;
const MAX_CHUNK = 256 * 1024;

/** Dials SFTP connections for one destination. Registers the password and passphrase as log secrets. */
export function createSftpDialer(settings: SftpSettings, log: ProtocolLog): Dialer {
  log.addSecret(settings.password);
  log.addSecret(settings.passphrase);
  return {
    protocol: "sftp",
    dial: () => dial(settings, log),
  };
}

async function dial(settings: SftpSettings, log: ProtocolLog): Promise<ProtocolConnection> {
  const id = nextId++;
  const port = settings.port ?? 22;
  const target = `${settings.host}:${String(port)}`;
  const timeoutMs = (settings.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_S) * 1000;
  const deadline = Date.now() + timeoutMs;
  const [plan, knownHosts] = await Promise.all([
    planAuth(settings),
    readKnownHosts(settings),
  ]).catch((error: unknown) => {
    log.write(
      id,
      "*",
      `not connecting to ${target}: ${error instanceof Error ? error.message : String(error)}`,
    );
    throw error;
  });
  const algorithms = sshAlgorithms(
    settings.algorithms,
    knownHosts ? knownAlgorithms(knownHosts.entries, settings.host, port) : [],
  );

  log.write(
    id,
    "*",
    `connecting to ${target}${settings.proxy === undefined ? "" : ` via ${settings.proxy}`} as ${settings.user ?? ""} ${plan.description}`,
  );
  const socket = await connectTcp({
    host: settings.host,
    port,
    ipFamily: settings.ipFamily,
    proxy: settings.proxy,
    timeoutMs,
    purpose: "SSH connection",
  }).catch((error: unknown) => {
    log.write(id, "*", `connect failed: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  });
  // ssh2 leaves Nagle on for a socket it is given: streamed writes would crawl at ~2 MiB/s.
  socket.setNoDelay(true);
  coalesceWrites(socket);

  const client = new ssh2.Client();
  let verdict: HostKeyVerdict | undefined;
  let serverKey: Buffer | undefined;
  let negotiated: NegotiatedAlgorithms | undefined;
  const accepted: { methods?: AuthenticationType[] } = {};
  let banner: () => string | undefined;
  const connectWhat = `Connecting to ${target} as "${settings.user ?? ""}" ${plan.description}`;

  const config: ConnectConfig & { sock: Socket } = {
    sock: socket,
    username: settings.user ?? "",
    authHandler: authHandler(plan, accepted),
    readyTimeout: Math.max(1000, deadline - Date.now()),
    keepaliveInterval: settings.keepAlive * 1000,
    keepaliveCountMax: 3,
    algorithms,
    hostVerifier: (key: Buffer): boolean => {
      serverKey = key;
      verdict = verifyHostKey(settings, port, key, knownHosts);
      return verdict.ok;
    },
  };
  client.on("handshake", (value) => {
    negotiated = value;
    useKeyObjects(client);
  });

  try {
    banner = await startSsh(client, config, connectWhat);
  } catch (error) {
    client.on("error", () => undefined);
    client.destroy();
    socket.destroy();
    const failure = dialError(error, connectWhat, plan, accepted.methods, verdict);
    log.write(id, "*", `connect failed: ${failure.message}`);
    throw failure;
  }

  const hostKeyNote = verdict?.ok ? verdict.note : "host key not checked";
  log.write(
    id,
    "*",
    `connected ${banner() ?? "(no identification)"}, cipher ${negotiated?.cs.cipher ?? "?"}, kex ${negotiated?.kex ?? "?"}; ${hostKeyNote}`,
  );
  if (settings.hostKeyTrust === "insecure") {
    log.write(
      id,
      "*",
      "hostKeyTrust=insecure: the host key was NOT verified; anyone on the path could impersonate the server",
    );
  }

  let session: SftpSession | undefined;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      if (socket.destroyed) {
        resolve();
        return;
      }
      const force = setTimeout(() => {
        client.destroy();
        resolve();
      }, 2000);
      socket.once("close", () => {
        clearTimeout(force);
        resolve();
      });
      log.write(id, "*", "closing");
      session?.markLost(
        new StorageError("CONNECTION", "The connection was closed by ferry."),
        true,
      );
      client.end();
    });
    return closed;
  };

  // From now on a failure of the client or the channel makes the connection unusable; the
  // listeners also keep a late 'error' from being thrown as unhandled.
  let lostEarly: StorageError | undefined;
  const lose = (what: string) => (error?: Error) => {
    const lost = error
      ? toStorageError(error, { what })
      : new StorageError("CONNECTION", `${what}: the server closed it.`);
    if (session) session.markLost(lost);
    else lostEarly ??= lost;
  };
  client
    .on("error", lose("The SSH connection failed"))
    .on("close", lose("The SSH connection was closed"));

  try {
    const sftp = await openSftp(client, connectWhat, Math.max(1000, deadline - Date.now()));
    session = new SftpSession(id, sftp, log, settings.idleTimeout * 1000, () => void close());
    if (lostEarly) session.markLost(lostEarly);
    sftp
      .on("error", lose("The SFTP channel failed"))
      .on("close", lose("The SFTP channel was closed"));
    const ident = banner();
    const extensions = sftpExtensions(sftp);
    log.write(id, "<", `VERSION extensions: ${Object.keys(extensions).join(", ") || "none"}`);
    const root = await resolveRoot(session, settings.path);
    const limits = sftpDataLimits(sftp);
    const readChunk = Math.min(limits.read, MAX_CHUNK);
    const writeChunk = Math.min(limits.write, MAX_CHUNK);
    return new SftpConnection({
      session,
      client,
      root,
      extensions,
      read: { chunkSize: readChunk, inFlight: Math.max(2, Math.ceil(READ_WINDOW / readChunk)) },
      write: {
        chunkSize: writeChunk,
        // Some servers corrupt files under parallel writes (ssh2-streams#119): sequentialWrites.
        inFlight: settings.sequentialWrites ? 1 : Math.max(2, Math.ceil(WRITE_WINDOW / writeChunk)),
      },
      info: {
        protocol: "sftp",
        ...(ident === undefined ? {} : { banner: ident }),
        features: Object.keys(extensions),
        ...(negotiated ? { tls: { version: "SSH-2.0", cipher: negotiated.cs.cipher } } : {}),
        ...(serverKey ? { fingerprint: fingerprint(serverKey) } : {}),
        root,
        notes: [
          ...(negotiated
            ? [
                `kex: ${negotiated.kex}`,
                `host key: ${negotiated.serverHostKey}`,
                `mac: ${negotiated.cs.mac || "(aead)"}`,
              ]
            : []),
          ...(serverKey ? [`host key type: ${keyType(serverKey)}`] : []),
          `host key trust: ${settings.hostKeyTrust}`,
          `login: ${plan.method}`,
          `writes: ${settings.sequentialWrites ? "sequential" : "pipelined"}`,
        ],
      },
      close,
    });
  } catch (error) {
    await close();
    throw toStorageError(error, { what: connectWhat });
  }
}

function dialError(
  error: unknown,
  what: string,
  plan: AuthPlan,
  accepted: AuthenticationType[] | undefined,
  verdict: HostKeyVerdict | undefined,
): StorageError {
  if (verdict !== undefined && !verdict.ok) return verdict.error;
  return toStorageError(error, { what, authHint: refusalHint(plan, accepted) });
}

/** `""` → the login directory; `x` and `./x` → relative to it; `/x` → absolute. */
export function rootPath(loginDir: string, path: string): string {
  const joined = posix.isAbsolute(path) ? path : posix.join(loginDir, path);
  const normal = posix.normalize(joined);
  return normal.length > 1 ? normal.replace(/\/+$/, "") : normal;
}

async function resolveRoot(session: SftpSession, path: string): Promise<string> {
  if (posix.isAbsolute(path)) return rootPath("/", path);
  const login = await session.request<string>(
    "REALPATH .",
    { what: "Resolving the login directory" },
    (callback) => {
      session.sftp.realpath(".", callback);
    },
    (resolved) => `NAME ${resolved}`,
  );
  return rootPath(login, path);
}
