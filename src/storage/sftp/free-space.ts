/**
 * Free space over SSH: the `statvfs@openssh.com` SFTP extension where the server offers it
 * (OpenSSH, also for sftp-only chrooted accounts), else `df -Pk` over an exec channel for
 * accounts with a shell, else nothing.
 */
import type { Client } from "ssh2";
import { isStorageError } from "../errors.ts";
import { parentPath } from "../keys.ts";
import type { FreeSpace } from "../storage.ts";
import type { SftpSession } from "./session.ts";

/** The statvfs@openssh.com reply fields used here (ssh2 returns numbers). */
interface Statvfs {
  f_frsize: number;
  f_blocks: number;
  f_bavail: number;
}

/** Free space of the filesystem holding `path`, from statvfs; climbs to a parent that exists. */
export async function statvfsFreeSpace(session: SftpSession, path: string): Promise<FreeSpace> {
  let current = path;
  for (let depth = 0; ; depth++) {
    try {
      const stats = await session.request<Statvfs>(
        `STATVFS ${current}`,
        { what: `Asking the free space of "${current}"`, path: current },
        (callback) => {
          session.sftp.ext_openssh_statvfs(current, callback);
        },
        (value) =>
          `STATVFS frsize=${String(value.f_frsize)} blocks=${String(value.f_blocks)} bavail=${String(value.f_bavail)}`,
      );
      return {
        available: stats.f_bavail * stats.f_frsize,
        total: stats.f_blocks * stats.f_frsize,
        source: "statvfs@openssh.com",
      };
    } catch (error) {
      // The backup directory may not exist yet: its nearest existing parent has the same space.
      const parent = parentPath(current);
      if (!isStorageError(error, "NOT_FOUND") || parent === current || depth > 32) throw error;
      current = parent;
    }
  }
}

/** `'it''s'` quoting for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Parses `df -Pk` output (POSIX format, 1024-byte blocks); undefined when it is not that. */
export function parseDfOutput(output: string): FreeSpace | undefined {
  const lines = output.trim().split(/\r?\n/);
  const header = lines[0];
  if (header === undefined || !/1024-blocks/i.test(header)) return undefined;
  // The file system name may contain spaces; the numbers are the 4 fields before "NN%".
  const match = /\s(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s/.exec(`${lines.slice(1).join(" ")} `);
  if (!match) return undefined;
  return {
    available: Number(match[3]) * 1024,
    total: Number(match[1]) * 1024,
    source: "df",
  };
}

/**
 * Runs `df -Pk <path>` on an exec channel (closed afterwards). Undefined when the account has no
 * shell (sftp-only: the command is refused, or `internal-sftp` runs instead and never answers,
 * hence the short time limit) or the output is not df's.
 */
export function dfFreeSpace(
  client: Client,
  session: SftpSession,
  path: string,
  timeoutMs: number,
): Promise<FreeSpace | undefined> {
  const command = `df -Pk ${shellQuote(path)}`;
  const { id, log } = session;
  if (session.lost !== undefined) return Promise.resolve(undefined);
  log.write(id, ">", `EXEC ${command}`);
  return new Promise((resolve) => {
    let output = "";
    let finished = false;
    let close: (() => void) | undefined;
    const finish = (result: FreeSpace | undefined, line: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      log.write(id, "<", line);
      close?.();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish(undefined, `EXEC no answer within ${String(timeoutMs / 1000)} s (no shell?)`);
    }, timeoutMs);
    try {
      client.exec(command, (error, channel) => {
        if (error) {
          finish(undefined, `EXEC refused: ${error.message}`);
          return;
        }
        close = () => {
          channel.close();
        };
        if (finished) close();
        channel.on("data", (data: Buffer) => {
          if (output.length < 65_536) output += data.toString("utf8");
        });
        channel.stderr.resume();
        channel.on("close", (code: unknown) => {
          const parsed = code === 0 ? parseDfOutput(output) : undefined;
          finish(parsed, `EXIT ${String(code)}${parsed ? "" : " (no usable df output)"}`);
        });
      });
    } catch (error) {
      finish(undefined, `EXEC failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}
