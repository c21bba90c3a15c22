/**
 * Destination URLs: `ftp://`, `ftpes://` (explicit TLS), `ftps://` (implicit TLS), `sftp://`,
 * `file://`, `memory://`, or a plain local path. Query parameters are settings. The URL path is
 * the backup directory, relative to the login directory: `ftp://h/backups` → `backups`,
 * `ftp://h//srv/backups` (or `%2F`) → `/srv/backups`, `ftp://h/./x` → `./x`.
 */
import { redactUrl } from "./redact.ts";
import { parseSettings, SettingsError, type StorageSettings } from "./settings.ts";

export { redactUrl };

export interface ParsedDestination {
  settings: StorageSettings;
  /** Things the user should hear about, e.g. a password given in the URL. */
  warnings: string[];
}

const SCHEMES: Record<string, Record<string, string>> = {
  "ftp:": { type: "ftp" },
  "ftpes:": { type: "ftp", tls: "explicit" },
  "ftps:": { type: "ftp", tls: "implicit" },
  "sftp:": { type: "sftp" },
  "ssh:": { type: "sftp" },
  "file:": { type: "local" },
  "memory:": { type: "memory" },
};

/** Default ports by protocol and TLS mode. */
export function defaultPort(settings: StorageSettings): number | undefined {
  if (settings.type === "sftp") return settings.port ?? 22;
  if (settings.type === "ftp") return settings.port ?? (settings.tls === "implicit" ? 990 : 21);
  return undefined;
}

/**
 * Parses a destination URL or local path, then applies `overrides` (from `--set key=value`),
 * then validates everything. Throws SettingsError with a message naming the problem.
 */
export function parseDestination(
  text: string,
  overrides: Record<string, unknown> = {},
): ParsedDestination {
  const warnings: string[] = [];
  const raw: Record<string, unknown> = {};
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(text) && !/^[a-z]:[\\/]/i.test(text)) {
      throw new SettingsError(
        `Cannot read destination "${text}": expected a URL such as ftp://user@host/backups, sftp://user@host/backups or a local path.`,
      );
    }
    Object.assign(raw, { type: "local", path: text });
  } else {
    const base = SCHEMES[scheme];
    if (base === undefined) {
      throw new SettingsError(
        `Unsupported destination scheme "${scheme}//": use ftp://, ftpes:// (explicit TLS), ftps:// (implicit TLS), sftp:// or a local path.`,
      );
    }
    Object.assign(raw, base, fromUrl(text, base.type ?? "", warnings));
  }
  for (const [key, value] of Object.entries(overrides)) setValue(raw, key, value);
  return { settings: parseSettings(raw), warnings };
}

function fromUrl(text: string, type: string, warnings: string[]): Record<string, unknown> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SettingsError(
      `Cannot read destination URL "${redactUrl(text)}": it is not a valid URL.`,
    );
  }
  const raw: Record<string, unknown> = {};
  if (type === "local") {
    raw.path = decode(url.pathname, "path", text);
  } else if (type !== "memory") {
    if (url.hostname !== "") raw.host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (url.port !== "") raw.port = url.port;
    if (url.username !== "") raw.user = decode(url.username, "user name", text);
    if (url.password !== "") {
      raw.password = decode(url.password, "password", text);
      warnings.push(
        "The password was given in the URL, where shell history and process lists can see it; prefer --password-file or FERRY_DESTINATION_PASSWORD.",
      );
    }
    raw.path = urlPath(decode(url.pathname, "path", text));
  }
  for (const [key, value] of url.searchParams) {
    if (key === "password" || key === "passphrase") {
      warnings.push(
        `The ${key} was given in the URL, where shell history and process lists can see it; prefer --${key}-file or FERRY_DESTINATION_${key.toUpperCase()}.`,
      );
    }
    setValue(raw, key, value);
  }
  return raw;
}

/** Percent-decoding that fails with a SettingsError naming the part, not a URIError. */
function decode(part: string, what: string, text: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new SettingsError(
      `Cannot read the ${what} in destination URL "${redactUrl(text)}": it has a malformed %-escape. Write a literal % as %25.`,
    );
  }
}

/** `/x` → `x`; `//x` and `/%2Fx` → `/x`; `/` → `` (the login directory). Takes it decoded. */
function urlPath(pathname: string): string {
  const decoded = pathname.slice(1);
  return decoded.replace(/\/+$/, "") || (decoded.startsWith("/") ? "/" : "");
}

/** Sets `key` (dotted for nested objects: `algorithms.cipher`) to a value; lists split on commas. */
function setValue(raw: Record<string, unknown>, key: string, value: unknown): void {
  const [head, ...rest] = key.split(".");
  if (head === undefined || head === "") return;
  if (rest.length === 0) {
    raw[head] = value;
    return;
  }
  const nested = (raw[head] ?? {}) as Record<string, unknown>;
  nested[rest.join(".")] =
    typeof value === "string" ? value.split(",").map((s) => s.trim()) : value;
  raw[head] = nested;
}
