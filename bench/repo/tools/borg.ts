/**
 * BorgBackup over SSH to the harness's OpenSSH, as the key user (who has a shell, so `borg serve`
 * runs on the server side: its CPU shows in the server column, not borg's). repokey-blake2
 * encryption and borg's default compression, lz4: what `borg init` + `borg create` give a user.
 */
import { join } from "node:path";
import { REPO_PASSWORD, SSH_OPTIONS, keyUser, type Tool } from "./tool.ts";

/** borg 1.2 (Debian 12), client and `borg serve`. */
export const borg: Tool = {
  name: "borg",
  transport: "SSH (borg serve) to OpenSSH",
  server: "openssh",
  needs: [
    { command: "borg", pkg: "borgbackup" },
    { command: "ssh", pkg: "openssh-client" },
  ],
  version: { cmd: "borg", args: ["--version"] },
  setup: ({ source, home, server }) => {
    const user = keyUser(server);
    const repoDir = join(user.home, "borg");
    const repo = `ssh://${user.name}@127.0.0.1:${String(user.port)}${repoDir}`;
    const env = {
      BORG_PASSPHRASE: REPO_PASSWORD,
      BORG_RSH: ["ssh", "-i", user.key, ...SSH_OPTIONS].join(" "),
      BORG_BASE_DIR: home,
      BORG_DISPLAY_PASSPHRASE: "no",
    };
    let last = 0;
    return Promise.resolve({
      repoDir,
      init: [{ cmd: "borg", args: ["init", "--encryption", "repokey-blake2", repo], env }],
      backup: (n) => {
        last = n;
        return { cmd: "borg", args: ["create", `${repo}::run-${String(n)}`, source], env };
      },
      // borg extracts into the working directory
      restore: (target) => ({
        cmd: "borg",
        args: ["extract", `${repo}::run-${String(last)}`],
        env,
        cwd: target,
      }),
    });
  },
};
