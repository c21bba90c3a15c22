// Public API of the real-server test harness: starts Debian's vsftpd, ProFTPD, Pure-FTPd and
// OpenSSH on 127.0.0.1 (free high ports) with generated configs, users, certificates and host
// keys, and stops them by PID. See test/servers/README.md.
import { startOpenssh, opensshUnavailable } from "./openssh.ts";
import { startProftpd, proftpdUnavailable } from "./proftpd.ts";
import { startPureftpd, pureftpdUnavailable } from "./pureftpd.ts";
import { runCommand } from "./runtime.ts";
import { startVsftpd, vsftpdUnavailable } from "./vsftpd.ts";

export type ServerKind =
  | "vsftpd" // plain FTP + explicit TLS (optional), require_ssl_reuse=YES, PASV; no MLSD
  | "vsftpd-implicit" // implicit TLS (implicit_ssl=YES), require_ssl_reuse=YES
  | "vsftpd-active" // pasv_enable=NO: active PORT/EPRT only; plain FTP, no TLS
  | "vsftpd-limit" // max_per_ip=2, plain FTP: the 3rd connection gets "421 There are too many…"
  | "proftpd" // ProFTPD + mod_tls (explicit TLS optional), MLSD, MFMT, SITE UTIME
  | "pureftpd" // Pure-FTPd, explicit TLS optional (-Y 1), MLSD
  | "openssh"; // sshd + SFTP: password user, key user, chrooted sftp-only user

export const ALL_SERVER_KINDS: readonly ServerKind[] = [
  "vsftpd",
  "vsftpd-implicit",
  "vsftpd-active",
  "vsftpd-limit",
  "proftpd",
  "pureftpd",
  "openssh",
];

export interface TestUser {
  name: string;
  password: string;
  /** Absolute local path of the user's login directory as seen on disk. */
  home: string;
  /** OpenSSH-format ed25519 private key without passphrase (key user only). */
  privateKeyPath?: string;
  /** OpenSSH-format ed25519 private key protected by `passphrase` (key user only). */
  encryptedKeyPath?: string;
  passphrase?: string;
}

export interface RunningServer {
  kind: ServerKind;
  host: "127.0.0.1";
  /** Control port (the implicit TLS port for vsftpd-implicit; the SSH port for openssh). */
  port: number;
  pid: number;
  /** FTP servers: only `password`. openssh: all three. */
  users: { password: TestUser; key?: TestUser; chroot?: TestUser };
  /** PEM of the CA that signed the server certificate (FTP servers with TLS). */
  caFile?: string;
  /** SHA-256 of the server leaf certificate, "AA:BB:..." (FTP servers with TLS). */
  certFingerprint?: string;
  /** "SHA256:base64-without-padding" of the ed25519 host key (openssh). */
  hostKeyFingerprint?: string;
  /** A client certificate signed by the same CA (FTP servers with TLS; not required by them). */
  clientCert?: { certFile: string; keyFile: string };
  /** Passive data port range (FTP servers with passive mode). */
  pasvPortRange?: [number, number];
  /** The server's own log (and its stdout/stderr): print it when a test fails. */
  logFile: string;
  /** SIGTERM by PID (and to its process tree), wait, SIGKILL if needed; removes the temp dir. */
  stop(): Promise<void>;
}

async function missingTool(tools: readonly string[]): Promise<string | undefined> {
  for (const t of tools) {
    const r = await runCommand("sh", ["-c", `command -v ${t}`]).catch(() => undefined);
    if (r?.code !== 0) return t;
  }
  return undefined;
}

const reasons = new Map<ServerKind, Promise<string | undefined>>();

/** Why a server cannot run here (binary missing, not root…), or undefined if it can. */
export function unavailableReason(kind: ServerKind): Promise<string | undefined> {
  let r = reasons.get(kind);
  if (r === undefined) {
    r = (async (): Promise<string | undefined> => {
      if (process.platform !== "linux") return `${kind} test servers need Linux`;
      if (process.getuid?.() !== 0) {
        return `${kind} test server needs root (it creates ferrytest-* system users and switches to them): run the tests as root`;
      }
      const tool = await missingTool(["openssl", "useradd", "chpasswd", "getent"]);
      if (tool !== undefined) return `${tool} not found: run \`bash test/servers/install.sh\``;
      switch (kind) {
        case "vsftpd":
        case "vsftpd-implicit":
        case "vsftpd-active":
        case "vsftpd-limit":
          return vsftpdUnavailable();
        case "proftpd":
          return proftpdUnavailable();
        case "pureftpd":
          return pureftpdUnavailable();
        case "openssh":
          return opensshUnavailable();
      }
    })();
    reasons.set(kind, r);
  }
  return r;
}

/** Starts a server of `kind` and resolves once it has sent its greeting. */
export async function startServer(kind: ServerKind): Promise<RunningServer> {
  const reason = await unavailableReason(kind);
  if (reason !== undefined) throw new Error(`cannot start ${kind}: ${reason}`);
  let lastError: unknown;
  // A port picked as free can be taken by someone else before the server binds it: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      switch (kind) {
        case "vsftpd":
        case "vsftpd-implicit":
        case "vsftpd-active":
        case "vsftpd-limit":
          return await startVsftpd(kind);
        case "proftpd":
          return await startProftpd();
        case "pureftpd":
          return await startPureftpd();
        case "openssh":
          return await startOpenssh();
      }
    } catch (e) {
      lastError = e;
      const msg = e instanceof Error ? e.message : String(e);
      if (!/address already in use|EADDRINUSE|bind\(\)|unable to bind/i.test(msg)) throw e;
    }
  }
  throw lastError;
}
