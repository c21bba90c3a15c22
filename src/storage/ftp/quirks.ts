/**
 * What a server is and what it needs: FEAT parsing, server recognition from the greeting and
 * SYST, and per-server quirks as named switches (each with the server that needs it).
 * Pure functions.
 */
import type { FtpReply } from "./replies.ts";

export type ServerKind = "vsftpd" | "proftpd" | "pureftpd" | "iis" | "filezilla" | "unknown";

/** The FEAT reply: the raw feature lines and a map `COMMAND` → parameters. */
export interface FeatureSet {
  readonly lines: string[];
  readonly map: ReadonlyMap<string, string>;
}

/** Parses a FEAT reply (`211-Features:` … `211 End`); empty when FEAT was refused. */
export function parseFeat(reply: FtpReply): FeatureSet {
  const map = new Map<string, string>();
  const lines: string[] = [];
  if (reply.code !== 211) return { lines, map };
  const all = reply.message.split(/\r?\n/);
  for (const raw of all.slice(1, -1)) {
    const line = raw.trim();
    if (line === "") continue;
    lines.push(line);
    const space = line.indexOf(" ");
    const name = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    map.set(name, space < 0 ? "" : line.slice(space + 1).trim());
  }
  return { lines, map };
}

/** Recognises the server from its greeting and SYST reply. */
export function detectServer(banner: string, syst = ""): ServerKind {
  const text = `${banner}\n${syst}`;
  if (/vsftpd/i.test(text)) return "vsftpd";
  if (/proftpd/i.test(text)) return "proftpd";
  if (/pure-?ftpd/i.test(text)) return "pureftpd";
  if (/filezilla/i.test(text)) return "filezilla";
  if (/microsoft ftp|windows_nt|\biis\b/i.test(text)) return "iis";
  return "unknown";
}

export interface Quirks {
  /**
   * `LIST` hides dot-files unless `LIST -a` (vsftpd, ProFTPD, Pure-FTPd: Unix servers);
   * ferry's temporary files are dot-files, so listHidden=auto asks for them (rclone
   * `force_list_hidden`). Windows servers show everything and may take `-a` for a path.
   */
  readonly listNeedsDashA: boolean;
  /** Sets times with the non-standard `MDTM YYYYMMDDhhmmss path` (vsftpd `mdtm_write`, default on). */
  readonly mdtmWrite: boolean;
  /**
   * Entries a listing can hold before the server cuts it. Pure-FTPd's `-L` limit (10000 by
   * default) counts `.` and `..` and reports "Output truncated to 10000 matches" on reaching
   * it, so 9997 entries is the most a directory can have (measured on 1.0.50).
   */
  readonly listLimit: number | undefined;
  /** RNTO onto an existing file replaces it (POSIX rename underneath). */
  readonly atomicReplace: boolean;
  /**
   * End a transfer early with ABOR (the server closes the data connection; we read until it
   * does) instead of closing the data connection ourselves. A TLS data connection closed
   * under them makes ProFTPD drop the whole session (`SSL_ERROR_SYSCALL … disconnecting`)
   * and Pure-FTPd stop answering; both handle ABOR during a transfer. vsftpd reads ABOR only
   * after a transfer (async_abor_enable=NO) but answers a closed data connection with 426.
   */
  readonly abortWithAbor: boolean;
}

/** The quirks of a server kind; `unix` is whether SYST said UNIX (POSIX rename). */
export function quirksOf(kind: ServerKind, unix: boolean): Quirks {
  return {
    listNeedsDashA: kind !== "iis" && kind !== "filezilla",
    mdtmWrite: kind === "vsftpd",
    listLimit: kind === "pureftpd" ? 9_997 : undefined,
    abortWithAbor: kind !== "vsftpd",
    // vsftpd, ProFTPD and Pure-FTPd call rename(2); IIS and FileZilla (Windows) refuse to
    // rename onto an existing file.
    atomicReplace:
      kind === "vsftpd" ||
      kind === "proftpd" ||
      kind === "pureftpd" ||
      (kind === "unknown" && unix),
  };
}

/** Listing caps known from the field: Pure-FTPd's default and common NAS firmware. */
const KNOWN_CAPS = new Set([2_000, 10_000]);

/**
 * Whether a listing was cut by the server: its final reply says so (`226 Output truncated`,
 * any 226/250 mentioning truncation), or — on Pure-FTPd, or when the reply counts matches —
 * the number of lines is exactly a known cap.
 */
export function isTruncated(final: FtpReply, lineCount: number, kind: ServerKind): boolean {
  if (/truncat/i.test(final.message)) return true;
  const hinted = kind === "pureftpd" || /\bmatches\b|\blimit/i.test(final.message);
  return hinted && KNOWN_CAPS.has(lineCount);
}

/** The available bytes of an `AVBL` reply (`213 123456789`), if parseable. */
export function parseAvbl(reply: FtpReply): number | undefined {
  if (reply.code !== 213) return undefined;
  const match = /^213[ -]\s*(\d+)\s*$/m.exec(reply.message);
  return match ? Number(match[1]) : undefined;
}
