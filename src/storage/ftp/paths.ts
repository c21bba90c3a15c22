/** FTP path handling: injection checks, root resolution, joining. Pure functions. */
import { posix } from "node:path";
import { StorageError } from "../errors.ts";

/**
 * Refuses a path (or any command argument) containing CR, LF or NUL: sent on the control
 * connection, a CR/LF would end the command and start another one (command injection).
 * Throws INVALID before anything is sent.
 */
export function checkPath(path: string, what: string): void {
  if (/[\r\n\0]/.test(path)) {
    throw new StorageError(
      "INVALID",
      `${what} refused: the path ${JSON.stringify(path)} contains CR, LF or NUL, which FTP cannot carry. Rename the file.`,
      { key: path },
    );
  }
}

/** Normalises an absolute path: no `.`/`..`/empty segments, no trailing slash (except `/`). */
export function normalizePath(path: string): string {
  const normal = posix.normalize(path.startsWith("/") ? path : `/${path}`);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/**
 * The absolute backup directory: the `path` setting resolved against the login directory
 * (`""` = the login directory, `x` or `./x` = relative to it, `/x` = absolute).
 */
export function resolveRoot(loginDir: string, setting: string): string {
  const base = normalizePath(loginDir === "" ? "/" : loginDir);
  if (setting === "" || setting === "." || setting === "./") return base;
  if (setting.startsWith("/")) return normalizePath(setting);
  return normalizePath(posix.join(base, setting));
}

/** `dir` + `/` + `name`, with exactly one slash. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/** The last segment of a path (`/` for the root). */
export function baseName(path: string): string {
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  const index = trimmed.lastIndexOf("/");
  const name = index < 0 ? trimmed : trimmed.slice(index + 1);
  return name === "" ? "/" : name;
}

/**
 * The directory of a `257 "<dir>" ...` reply (PWD, MKD); `""` inside the quotes stands for one
 * quote (RFC 959). Undefined when the reply carries no quoted path.
 */
export function parse257(message: string): string | undefined {
  const start = message.indexOf('"');
  if (start < 0) return undefined;
  let dir = "";
  for (let i = start + 1; i < message.length; i++) {
    const char = message[i];
    if (char === '"') {
      if (message[i + 1] === '"') {
        dir += '"';
        i++;
        continue;
      }
      return dir;
    }
    dir += char ?? "";
  }
  return undefined;
}
