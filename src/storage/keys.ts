/** Keys (storage paths relative to the backup directory) and their mapping to protocol paths. */
import { randomBytes } from "node:crypto";
import { StorageError } from "./errors.ts";

/**
 * Checks a key: `/`-separated, no leading or trailing `/`, no empty, `.` or `..` segment, no NUL,
 * CR or LF (a CR/LF in an FTP argument would inject a second command). `""` is the backup
 * directory itself. Throws INVALID naming the problem.
 */
export function checkKey(key: string): string {
  if (key === "") return key;
  const problem = /[\r\n\0]/.test(key)
    ? "contains CR, LF or NUL"
    : key.startsWith("/") || key.endsWith("/")
      ? "starts or ends with /"
      : key.split("/").some((segment) => segment === "" || segment === "." || segment === "..")
        ? "has an empty, . or .. segment"
        : isTempName(baseName(key))
          ? "has the form of ferry's temporary names (.name.ferry-tmp-…), which listings hide"
          : undefined;
  if (problem !== undefined) {
    throw new StorageError(
      "INVALID",
      `Invalid storage key ${JSON.stringify(key)}: it ${problem}.`,
      {
        key,
      },
    );
  }
  return key;
}

/** Joins the backup directory's protocol path and a key. */
export function keyPath(root: string, key: string): string {
  checkKey(key);
  if (key === "") return root;
  return root.endsWith("/") ? `${root}${key}` : `${root}/${key}`;
}

/**
 * The protocol path of a temporary object's key (as `list` with `temporary` reports it): the
 * same checks as {@link keyPath}, except that the base name must be a temporary name.
 */
export function tempKeyPath(root: string, key: string): string {
  const cut = key.lastIndexOf("/");
  const dir = cut < 0 ? "" : key.slice(0, cut);
  const name = key.slice(cut + 1);
  if (!isTempName(name) || /[\r\n\0/]/.test(name)) {
    throw new StorageError(
      "INVALID",
      `Invalid temporary key ${JSON.stringify(key)}: its name is not one of ferry's temporary names.`,
      { key },
    );
  }
  const parent = keyPath(root, dir);
  return parent.endsWith("/") ? `${parent}${name}` : `${parent}/${name}`;
}

/** Parent of a protocol path (`/a/b` → `/a`, `/a` → `/`, `a` → `.`). */
export function parentPath(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  if (cut < 0) return ".";
  return cut === 0 ? "/" : path.slice(0, cut);
}

/** Base name of a key or path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

const TEMP_MARK = ".ferry-tmp-";

/** A temporary name beside `path` for an atomic write: `dir/.name.ferry-tmp-<random>`. */
export function tempPath(path: string): string {
  const parent = parentPath(path);
  const prefix = parent === "." ? "" : parent === "/" ? "/" : `${parent}/`;
  return `${prefix}.${baseName(path)}${TEMP_MARK}${randomBytes(6).toString("hex")}`;
}

/** True for names written by {@link tempPath}; listings leave them out. */
export function isTempName(name: string): boolean {
  return name.startsWith(".") && name.includes(TEMP_MARK);
}
