// vsftpd 3.0.3 from Debian, unpacked into .servers/vsftpd, in four configurations.
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { makeCerts, type CertSet } from "./certs.ts";
import {
  inServerDir,
  makeHome,
  reservePort,
  reservePortRange,
  spawnFtpServer,
} from "./ftp-setup.ts";
import type { RunningServer } from "./harness.ts";
import { SERVERS_DIR, binaryUnavailable, sleep } from "./runtime.ts";
import { PAM_SERVICE, ensureSystemUsers } from "./users.ts";

export type VsftpdKind = "vsftpd" | "vsftpd-implicit" | "vsftpd-active" | "vsftpd-limit";

const BIN = path.join(SERVERS_DIR, "vsftpd/usr/sbin/vsftpd");

export function vsftpdUnavailable(): Promise<string | undefined> {
  // `vsftpd -v` prints its version (to fd 0, of all places) and exits 0.
  return binaryUnavailable(BIN, ["-v"]);
}

function config(o: {
  kind: VsftpdKind;
  port: number;
  home: string;
  emptyDir: string;
  logFile: string;
  pasv: [number, number] | undefined;
  certs: CertSet | undefined;
}): string {
  const lines: Record<string, string | number> = {
    // standalone, in the foreground, IPv4 loopback only
    listen: "YES",
    listen_ipv6: "NO",
    listen_address: "127.0.0.1",
    listen_port: o.port,
    background: "NO",
    // containers: no seccomp filter, no new PID/network namespaces per session
    seccomp_sandbox: "NO",
    isolate: "NO",
    isolate_network: "NO",
    // one local (system) account, logged in through our own PAM service, into a per-server home
    anonymous_enable: "NO",
    local_enable: "YES",
    write_enable: "YES",
    local_umask: "022",
    local_root: o.home,
    pam_service_name: PAM_SERVICE,
    userlist_enable: "NO",
    tcp_wrappers: "NO",
    chroot_local_user: "NO",
    allow_writeable_chroot: "YES",
    secure_chroot_dir: o.emptyDir,
    use_localtime: "NO",
    // logging: the protocol and transfers into one file
    xferlog_enable: "YES",
    xferlog_std_format: "NO",
    log_ftp_protocol: "YES",
    vsftpd_log_file: o.logFile,
    syslog_enable: "NO",
    // data connections
    connect_from_port_20: "NO",
    port_enable: "YES",
    pasv_enable: o.pasv ? "YES" : "NO",
    max_clients: 50,
    max_per_ip: o.kind === "vsftpd-limit" ? 2 : 0,
    idle_session_timeout: 300,
    data_connection_timeout: 120,
    ssl_enable: o.certs ? "YES" : "NO",
  };
  if (o.pasv) {
    lines.pasv_min_port = o.pasv[0];
    lines.pasv_max_port = o.pasv[1];
    lines.pasv_address = "127.0.0.1";
  }
  if (o.certs) {
    Object.assign(lines, {
      rsa_cert_file: o.certs.certFile,
      rsa_private_key_file: o.certs.keyFile,
      ca_certs_file: o.certs.caFile,
      // the built-in default (DES-CBC3-SHA) is not offered by OpenSSL 3
      ssl_ciphers: "HIGH",
      ssl_tlsv1: "YES",
      ssl_sslv2: "NO",
      ssl_sslv3: "NO",
      allow_anon_ssl: "NO",
      // explicit TLS is optional (implicit_ssl forces it anyway)
      force_local_logins_ssl: "NO",
      force_local_data_ssl: "NO",
      // data connections must resume the control connection's TLS session
      require_ssl_reuse: "YES",
      // a client certificate is accepted but not required
      ssl_request_cert: "YES",
      require_cert: "NO",
      validate_cert: "NO",
      implicit_ssl: o.kind === "vsftpd-implicit" ? "YES" : "NO",
    });
  }
  return Object.entries(lines)
    .map(([k, v]) => `${k}=${String(v)}\n`)
    .join("");
}

export async function startVsftpd(kind: VsftpdKind): Promise<RunningServer> {
  const users = await ensureSystemUsers();
  return inServerDir(kind, async (dir, ports) => {
    const tlsOn = kind === "vsftpd" || kind === "vsftpd-implicit";
    const certs = tlsOn ? await makeCerts(dir) : undefined;
    const home = await makeHome(dir, users.pass);
    const emptyDir = path.join(dir, "empty"); // root-owned, empty, not writable by the user
    await mkdir(emptyDir, { mode: 0o755 });
    const port = await reservePort(ports);
    const pasv = kind === "vsftpd-active" ? undefined : await reservePortRange(ports, 20);
    const logFile = path.join(dir, "vsftpd.log");
    const conf = path.join(dir, "vsftpd.conf");
    await writeFile(conf, config({ kind, port, home, emptyDir, logFile, pasv, certs }));

    const running = await spawnFtpServer({
      kind,
      cmd: BIN,
      args: [conf],
      dir,
      ports,
      port,
      logFile,
      implicitTls: kind === "vsftpd-implicit",
      user: users.pass,
      home,
      certs,
      pasv,
    });
    // vsftpd counts a session against max_per_ip until it has reaped the session process;
    // give it a moment after the readiness probe so callers get both slots.
    if (kind === "vsftpd-limit") await sleep(200);
    return running;
  });
}
