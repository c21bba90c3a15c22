/**
 * rclone copying the tree (sync up, copy down) over FTP, explicit FTPS and SFTP, configured by
 * connection strings alone. Defaults (4 transfers, 8 checkers) except two vsftpd switches rclone
 * documents: `writing_mdtm` (without it rclone cannot set times on vsftpd and compares sizes
 * only, missing same-size edits) and, for FTPS, `disable_tls13` (rclone 1.60's TLS 1.3 session
 * resumption fails against vsftpd's require_ssl_reuse with "tls: illegal parameter").
 */
import { join } from "node:path";
import { mustRun } from "../../../test/servers/runtime.ts";
import { ftpUser, keyUser, type Tool, type ToolContext } from "./tool.ts";

type Transport = "ftp" | "ftps" | "sftp";

const TRANSPORTS: Record<Transport, string> = {
  ftp: "FTP to vsftpd",
  ftps: "FTPS (explicit) to vsftpd",
  sftp: "SFTP to OpenSSH",
};

/** The remote (`:backend,options:path`) and its directory on the server's disk. */
async function remoteOf(
  transport: Transport,
  name: string,
  { server }: ToolContext,
): Promise<{ remote: string; repoDir: string }> {
  if (transport === "sftp") {
    const user = keyUser(server);
    // an absolute path: rclone runs md5sum/sha1sum over ssh, in the account's passwd home
    const repoDir = join(user.home, name);
    const options = ["host=127.0.0.1", `port=${String(user.port)}`, `user=${user.name}`];
    return {
      remote: `:sftp,${[...options, `key_file=${user.key}`].join(",")}:${repoDir}`,
      repoDir,
    };
  }
  const user = ftpUser(server);
  const pass = (await mustRun("rclone", ["obscure", user.password])).trim();
  const options = [
    "host=127.0.0.1",
    `port=${String(user.port)}`,
    `user=${user.name}`,
    `pass=${pass}`,
    "writing_mdtm=true",
    ...(transport === "ftps"
      ? ["explicit_tls=true", "no_check_certificate=true", "disable_tls13=true"]
      : []),
  ];
  return { remote: `:ftp,${options.join(",")}:${name}`, repoDir: join(user.home, name) };
}

function rclone(transport: Transport): Tool {
  const name = `rclone-${transport}`;
  return {
    name,
    transport: TRANSPORTS[transport],
    server: transport === "sftp" ? "openssh" : "vsftpd",
    needs: [{ command: "rclone", pkg: "rclone" }],
    version: { cmd: "rclone", args: ["version"] },
    setup: async (ctx) => {
      const { remote, repoDir } = await remoteOf(transport, name, ctx);
      const run = (...args: string[]) => ({
        cmd: "rclone",
        args: ["--config", join(ctx.home, "rclone.conf"), ...args],
      });
      return {
        repoDir,
        init: [],
        backup: () => run("sync", ctx.source, remote),
        restore: (target) => run("copy", remote, target),
      };
    },
  };
}

/** rclone over plain FTP. */
export const rcloneFtp = rclone("ftp");
/** rclone over explicit FTPS (AUTH TLS), certificate not checked. */
export const rcloneFtps = rclone("ftps");
/** rclone over SFTP with the key user. */
export const rcloneSftp = rclone("sftp");
