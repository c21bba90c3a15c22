/**
 * What ssh2 knows but does not expose: the SFTP extensions the server announced and the read and
 * write sizes it negotiated (limits@openssh.com). Read from ssh2 1.17's private fields, in this
 * one file, with safe fallbacks should a later ssh2 rename them.
 */
import type { SFTPWrapper } from "ssh2";

interface Ssh2SftpPrivate {
  _extensions?: unknown;
  _maxReadLen?: unknown;
  _maxWriteLen?: unknown;
}

/** Extension name → data, as in the server's VERSION packet (`posix-rename@openssh.com` → `1`). */
export function sftpExtensions(sftp: SFTPWrapper): Record<string, string> {
  const extensions = (sftp as unknown as Ssh2SftpPrivate)._extensions;
  if (extensions === null || typeof extensions !== "object") return {};
  const result: Record<string, string> = {};
  for (const [name, data] of Object.entries(extensions)) {
    if (typeof data === "string") result[name] = data;
  }
  return result;
}

/** SFTP v3's safe size (34000-byte packets, what ssh2 assumes of servers other than OpenSSH). */
const SAFE_DATA_LENGTH = 32 * 1024;

/** Largest READ and WRITE data length ssh2 sends in one request to this server. */
export function sftpDataLimits(sftp: SFTPWrapper): { read: number; write: number } {
  const raw = sftp as unknown as Ssh2SftpPrivate;
  const pick = (value: unknown) =>
    typeof value === "number" && Number.isFinite(value) && value >= 1024 ? value : SAFE_DATA_LENGTH;
  return { read: pick(raw._maxReadLen), write: pick(raw._maxWriteLen) };
}
