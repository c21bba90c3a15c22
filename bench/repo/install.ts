/**
 * Installs the peers (and GNU time) from Debian when a command is missing:
 * `apt-get install -y --no-install-recommends …`, with one `apt-get update` and a retry when the
 * package lists are missing or stale. Output goes to a log file, not the report.
 */
import { appendFile } from "node:fs/promises";
import { runCommand } from "../../test/servers/runtime.ts";

/** A command and the Debian package that has it. */
export interface Need {
  command: string;
  pkg: string;
}

async function has(command: string): Promise<boolean> {
  const r = await runCommand("sh", ["-c", `command -v ${command}`]).catch(() => undefined);
  return r?.code === 0;
}

async function apt(args: string[], logFile: string): Promise<boolean> {
  const r = await runCommand("apt-get", args, {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    timeoutMs: 15 * 60_000,
  }).catch((error: unknown) => ({ code: 1, stdout: "", stderr: String(error) }));
  await appendFile(logFile, `$ apt-get ${args.join(" ")}\n${r.stdout}${r.stderr}\n`);
  return r.code === 0;
}

/**
 * Installs what is missing. Resolves with the commands still missing afterwards, each with the
 * reason (not root, apt failed).
 */
export async function ensureInstalled(
  needs: readonly Need[],
  logFile: string,
  say: (line: string) => void,
): Promise<Map<string, string>> {
  const missing: Need[] = [];
  for (const need of needs) {
    if (!missing.some((m) => m.command === need.command) && !(await has(need.command))) {
      missing.push(need);
    }
  }
  const still = new Map<string, string>();
  if (missing.length === 0) return still;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  if (process.getuid?.() !== 0) {
    for (const m of missing)
      still.set(m.command, `${m.command} not installed (apt-get install ${m.pkg})`);
    return still;
  }
  say(`installing ${pkgs.join(" ")} (log: ${logFile})`);
  const install = ["install", "-y", "--no-install-recommends", ...pkgs];
  if (!(await apt(install, logFile))) {
    await apt(["update", "-q"], logFile);
    await apt(install, logFile);
  }
  for (const m of missing) {
    if (!(await has(m.command))) {
      still.set(
        m.command,
        `${m.command} could not be installed (apt-get install ${m.pkg}; see ${logFile})`,
      );
    }
  }
  return still;
}
