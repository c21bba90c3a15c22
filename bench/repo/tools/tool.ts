/** What a benchmarked tool provides: how to set it up, back up, and restore. */
import type { RunningServer } from "../../../test/servers/harness.ts";
import type { Command } from "../measure.ts";
import type { BenchServer } from "../servers.ts";

/** Where a tool runs. */
export interface ToolContext {
  /** Absolute path of the tree to back up. */
  source: string;
  /** An empty directory of this tool's own (its HOME: caches, config, keys, restores). */
  home: string;
  /** The server, for tools that use one. */
  server: RunningServer | undefined;
}

/** One tool's repository (or mirror) and the commands that use it. */
export interface Session {
  /** Where the backup lives on the server's (or this) disk: its size is measured with du. */
  repoDir: string;
  /** Run once before the first backup; not part of any measured phase. */
  init: Command[];
  /** The n-th backup (1, 2, 3…) of the source. */
  backup: (n: number) => Command;
  /** Restores the latest backup into the empty directory `target`. */
  restore: (target: string) => Command;
}

/** A backup or copy tool, over one transport. */
export interface Tool {
  /** Name for --only and the report, e.g. "rclone-ftps". */
  name: string;
  /** Protocol and server, e.g. "FTPS (explicit) to vsftpd". */
  transport: string;
  server: BenchServer | undefined;
  /** Commands the tool runs, each with the Debian package that has it. */
  needs: { command: string; pkg: string }[];
  /** Prints a version number somewhere in its first line. */
  version: Command;
  setup: (ctx: ToolContext) => Promise<Session>;
}

/** The password every encrypting tool's repository gets. */
export const REPO_PASSWORD = "bench-repository-password";

/** ssh options for a loopback server whose host key changes every run. */
export const SSH_OPTIONS = [
  "-o StrictHostKeyChecking=no",
  "-o UserKnownHostsFile=/dev/null",
  "-o LogLevel=ERROR",
  "-o BatchMode=yes",
];

/** The harness's key user and its unencrypted private key. */
export function keyUser(server: RunningServer | undefined): {
  name: string;
  home: string;
  key: string;
  port: number;
} {
  const user = server?.users.key;
  if (server === undefined || user?.privateKeyPath === undefined) {
    throw new Error("the OpenSSH server of the harness gave no key user");
  }
  return { name: user.name, home: user.home, key: user.privateKeyPath, port: server.port };
}

/** The harness's FTP user. */
export function ftpUser(server: RunningServer | undefined): {
  name: string;
  password: string;
  home: string;
  port: number;
} {
  if (server === undefined) throw new Error("no FTP server");
  const user = server.users.password;
  return { name: user.name, password: user.password, home: user.home, port: server.port };
}
