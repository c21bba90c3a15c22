/** SFTP attributes → {@link Entry}: type from the mode bits, size, mtime. */
import type { Stats } from "ssh2";
import type { Entry, EntryType } from "../storage.ts";

/** Attribute fields as ssh2 parses them. */
export type Attributes = Pick<Stats, "mode" | "size" | "mtime">;

/** `S_IFMT` bits of an SFTP `permissions` field → entry type. */
export function entryType(mode: number): EntryType {
  switch (mode & 0o170000) {
    case 0o100000:
      return "file";
    case 0o040000:
      return "directory";
    case 0o120000:
      return "symlink";
    default:
      return "other";
  }
}

/** An entry named `name` from its attributes; size 0 for anything but files. */
export function toEntry(name: string, attrs: Attributes): Entry {
  const type = entryType(attrs.mode);
  return {
    name,
    type,
    size: type === "file" ? attrs.size : 0,
    ...(typeof attrs.mtime === "number" ? { mtime: new Date(attrs.mtime * 1000) } : {}),
  };
}

/** `file size=12 mtime=…`, for the protocol log. */
export function describe(attrs: Attributes): string {
  const mtime =
    typeof attrs.mtime === "number" ? ` mtime=${new Date(attrs.mtime * 1000).toISOString()}` : "";
  return `${entryType(attrs.mode)} size=${String(attrs.size)}${mtime}`;
}
