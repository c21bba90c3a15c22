/**
 * lftp mirroring the tree over plain FTP: `mirror -R --delete` up, `mirror` down, with 4
 * parallel transfers (ferry's default connection count). TLS is switched off (`ftp:ssl-allow`),
 * since vsftpd offers AUTH TLS and lftp would otherwise use it.
 */
import { join } from "node:path";
import { ftpUser, type Tool } from "./tool.ts";

const PARALLEL = 4;

/** lftp 4.9 (Debian 12). */
export const lftp: Tool = {
  name: "lftp",
  transport: "FTP to vsftpd",
  server: "vsftpd",
  needs: [{ command: "lftp", pkg: "lftp" }],
  version: { cmd: "lftp", args: ["--version"] },
  setup: ({ source, server }) => {
    const user = ftpUser(server);
    const dir = "lftp";
    const open = [
      "set cmd:fail-exit yes",
      "set ftp:ssl-allow no",
      "set net:max-retries 2",
      `open -u ${user.name},${user.password} -p ${String(user.port)} 127.0.0.1`,
    ].join("; ");
    const run = (mirror: string) => ({
      cmd: "lftp",
      args: ["-c", `${open}; ${mirror}`],
      env: { LC_ALL: "C.UTF-8" },
    });
    const parallel = `--parallel=${String(PARALLEL)}`;
    return Promise.resolve({
      repoDir: join(user.home, dir),
      init: [],
      backup: () => run(`mirror -R --delete ${parallel} "${source}" ${dir}`),
      restore: (target) => run(`mirror ${parallel} ${dir} "${target}"`),
    });
  },
};
