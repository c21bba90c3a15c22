/**
 * restic over SFTP to the harness's OpenSSH, as the key user. restic starts the system ssh client
 * itself (`sftp.command`), so the ssh process counts in restic's CPU and RSS. Repository format 2
 * (restic 0.14's compressed format) with its default compression, `auto` (zstd).
 */
import { join } from "node:path";
import { REPO_PASSWORD, SSH_OPTIONS, keyUser, type Tool } from "./tool.ts";

/** restic 0.14 (Debian 12) with the SFTP backend. */
export const restic: Tool = {
  name: "restic",
  transport: "SFTP to OpenSSH",
  server: "openssh",
  needs: [
    { command: "restic", pkg: "restic" },
    { command: "ssh", pkg: "openssh-client" },
  ],
  version: { cmd: "restic", args: ["version"] },
  setup: ({ source, home, server }) => {
    const user = keyUser(server);
    const repoDir = join(user.home, "restic");
    const ssh = ["ssh", "-i", user.key, "-p", String(user.port), ...SSH_OPTIONS];
    const sftp = `${ssh.join(" ")} ${user.name}@127.0.0.1 -s sftp`;
    const env = { RESTIC_PASSWORD: REPO_PASSWORD, RESTIC_CACHE_DIR: join(home, "cache") };
    const restic = (...args: string[]) => ({
      cmd: "restic",
      args: ["-r", `sftp:${user.name}@127.0.0.1:${repoDir}`, "-o", `sftp.command=${sftp}`, ...args],
      env,
    });
    return Promise.resolve({
      repoDir,
      init: [restic("init", "--repository-version", "2")],
      backup: () => restic("backup", "--host", "bench", source),
      restore: (target) => restic("restore", "latest", "--host", "bench", "--target", target),
    });
  },
};
