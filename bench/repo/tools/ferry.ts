/**
 * ferry itself, through its command line, to a local directory, SFTP, FTP and explicit FTPS:
 *
 *   ferry init -d <destination>
 *   ferry backup -d <destination> <source>
 *   ferry restore latest --target <dir> -d <destination>
 *
 * with the repository password in FERRY_PASSWORD and the FTP login password in
 * FERRY_DESTINATION_PASSWORD, and a fresh cache per run in FERRY_CACHE. SFTP logs in with the key user's key (`privateKey`) and pins the
 * host key (`hostKey`); FTPS trusts the harness's CA (`caFile`). Default settings otherwise
 * (4 connections).
 */
import { join } from "node:path";
import { REPO_ROOT } from "../../../test/servers/runtime.ts";
import type { Command } from "../measure.ts";
import { REPO_PASSWORD, ftpUser, keyUser, type Tool, type ToolContext } from "./tool.ts";

type Transport = "local" | "sftp" | "ftp" | "ftps";

const TRANSPORTS: Record<Transport, string> = {
  local: "local directory",
  sftp: "SFTP to OpenSSH",
  ftp: "FTP to vsftpd",
  ftps: "FTPS (explicit) to vsftpd",
};

const BIN = join(REPO_ROOT, "bin", "ferry.js");

/** The destination URL and the backup directory on the server's (or this) disk. */
function destinationOf(
  transport: Transport,
  name: string,
  { home, server }: ToolContext,
): { url: string; repoDir: string; env: Record<string, string> } {
  if (transport === "local") {
    const repoDir = join(home, "repository");
    return { url: repoDir, repoDir, env: {} };
  }
  if (transport === "sftp") {
    const user = keyUser(server);
    const query = new URLSearchParams({
      privateKey: user.key,
      hostKey: server?.hostKeyFingerprint ?? "",
    });
    return {
      url: `sftp://${user.name}@127.0.0.1:${String(user.port)}/${name}?${query.toString()}`,
      repoDir: join(user.home, name),
      env: {},
    };
  }
  const user = ftpUser(server);
  const scheme = transport === "ftps" ? "ftpes" : "ftp";
  const query =
    transport === "ftps"
      ? `?${new URLSearchParams({ caFile: server?.caFile ?? "" }).toString()}`
      : "";
  return {
    url: `${scheme}://${user.name}@127.0.0.1:${String(user.port)}/${name}${query}`,
    repoDir: join(user.home, name),
    env: { FERRY_DESTINATION_PASSWORD: user.password },
  };
}

function ferry(transport: Transport): Tool {
  const name = `ferry-${transport}`;
  return {
    name,
    transport: TRANSPORTS[transport],
    server: transport === "local" ? undefined : transport === "sftp" ? "openssh" : "vsftpd",
    needs: [],
    version: { cmd: process.execPath, args: [BIN, "--version"] },
    setup: (ctx) => {
      const { url, repoDir, env } = destinationOf(transport, name, ctx);
      const run = (...args: string[]): Command => ({
        cmd: process.execPath,
        args: [BIN, ...args],
        env: { ...env, FERRY_PASSWORD: REPO_PASSWORD, FERRY_CACHE: join(ctx.home, "cache") },
      });
      return Promise.resolve({
        repoDir,
        init: [run("init", "-d", url)],
        backup: () => run("backup", "-d", url, ctx.source),
        restore: (target) => run("restore", "latest", "--target", target, "-d", url),
      });
    },
  };
}

/** ferry to a local directory. */
export const ferryLocal = ferry("local");
/** ferry over SFTP with the key user. */
export const ferrySftp = ferry("sftp");
/** ferry over plain FTP. */
export const ferryFtp = ferry("ftp");
/** ferry over explicit FTPS, trusting the harness's CA. */
export const ferryFtps = ferry("ftps");
