/**
 * Destination settings: one schema for URLs (query parameters, all strings) and settings
 * objects (typed values). Bad values are refused with a message naming the setting, the value
 * and what is allowed. Every setting here changes behaviour somewhere; docs/settings.md lists
 * where.
 */
import { isIP } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { maskUserinfo, SECRET_SETTINGS } from "./redact.ts";
import { checkCombinations, impliedSettings } from "./settings-combinations.ts";
import { parseDuration, parseRate } from "./units.ts";

/** Accepts `true/false/yes/no/on/off/1/0` as well as booleans. */
const bool = z.preprocess(
  (value) => {
    if (typeof value !== "string") return value;
    const text = value.trim().toLowerCase();
    if (["true", "yes", "on", "1"].includes(text)) return true;
    if (["false", "no", "off", "0"].includes(text)) return false;
    return value;
  },
  z.boolean({ error: "expected true or false" }),
);

/** Whole seconds or a duration (`30s`, `2m`); stored as seconds. */
const seconds = (min: number) =>
  z.preprocess(
    (value) => (typeof value === "string" ? (parseDuration(value) ?? value) : value),
    z
      .number({ error: "expected seconds, e.g. 30 or 2m" })
      .min(min, { error: `expected at least ${String(min)} seconds` })
      .max(86_400, { error: "expected at most 86400 seconds (1 day)" }),
  );

/** A non-negative integer; `0` means unlimited where the setting says so. */
const count = (max: number) =>
  z.preprocess(
    (value) => (typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
    z
      .number({ error: "expected a whole number" })
      .int({ error: "expected a whole number" })
      .min(0, { error: "expected 0 or more" })
      .max(max, { error: `expected at most ${String(max)}` }),
  );

/** A rate such as `10MiB/s`; stored as bytes per second. */
const rate = z.preprocess(
  (value) => (typeof value === "string" ? (parseRate(value) ?? value) : value),
  z
    .number({ error: "expected a rate such as 10MiB/s or 500KiB/s" })
    .min(1024, { error: "expected at least 1KiB/s" }),
);

const port = z.preprocess(
  (value) => (typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
  z
    .number({ error: "expected a port number" })
    .int()
    .min(1, { error: "expected a port from 1 to 65535" })
    .max(65_535, { error: "expected a port from 1 to 65535" }),
);

const portRange = z.preprocess(
  (value) => {
    if (typeof value !== "string") return value;
    const match = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(value);
    return match ? [Number(match[1]), Number(match[2])] : value;
  },
  z
    .tuple([z.number().int().min(1024).max(65_535), z.number().int().min(1024).max(65_535)], {
      error: "expected a port range such as 40000-40100 (ports 1024 to 65535)",
    })
    .refine(([low, high]) => low <= high, { error: "expected the low port first" }),
);

/** Strings that are sent to a server must not carry CR, LF or NUL (command injection). */
const safeText = z
  .string()
  .refine((text) => !/[\r\n\0]/.test(text), { error: "must not contain CR, LF or NUL" });

const proxyUrl = z
  .string()
  .refine((text) => /^(http|socks4a?|socks5h?):\/\/[^/]+\/?$/i.test(text), {
    error: "expected http://host:port, socks4://host:port or socks5://[user:pass@]host:port",
  });

/** A local file path; a leading `~/` means the home directory (shells leave `key=~/x` alone). */
const filePath = z
  .string()
  .min(1, { error: "expected a file path" })
  .transform((text) =>
    text === "~" || text.startsWith("~/") ? join(homedir(), text.slice(1)) : text,
  );

const tlsVersion = z.enum(["1.2", "1.3"], { error: "expected 1.2 or 1.3" });
const fingerprint = z
  .string()
  .transform((text) => text.replace(/^sha256[:/]?/i, "").replace(/[:\s]/g, ""))
  .refine((hex) => /^[0-9a-f]{64}$/i.test(hex), {
    error: "expected a SHA-256 fingerprint: 64 hex digits, colons allowed",
  })
  .transform((hex) => hex.toUpperCase().match(/../g)?.join(":") ?? hex);

const common = {
  path: z.string().default(""),
  maxRetries: count(1000).default(5),
  maxConnections: count(256).default(4),
  bandwidthLimit: rate.optional(),
  uploadLimit: rate.optional(),
  downloadLimit: rate.optional(),
  protocolLog: filePath.optional(),
  readOnly: bool.default(false),
};

/** Settings of network destinations only: a local directory has no connection to time out. */
const network = {
  connectTimeout: seconds(1).optional(),
  idleTimeout: seconds(1).default(60),
  keepAlive: seconds(0).default(15),
  host: z
    .string()
    .min(1, { error: "a host is required" })
    .refine((text) => !/[\s/@]/.test(text), { error: "expected a host name or address" }),
  port: port.optional(),
  user: safeText.optional(),
  password: safeText.optional(),
  ipFamily: z.enum(["auto", "ipv4", "ipv6"]).default("auto"),
  proxy: proxyUrl.optional(),
};

export const localSettings = z.strictObject({ type: z.literal("local"), ...common });

export const memorySettings = z.strictObject({ type: z.literal("memory"), ...common });

export const ftpSettings = z.strictObject({
  type: z.literal("ftp"),
  ...common,
  ...network,
  anonymous: bool.default(false),
  account: safeText.optional(),
  tls: z.enum(["none", "explicit", "implicit"]).default("none"),
  tlsMinVersion: tlsVersion.default("1.2"),
  tlsMaxVersion: tlsVersion.default("1.3"),
  tlsTrust: z.enum(["ca", "fingerprint", "insecure"]).default("ca"),
  caFile: filePath.optional(),
  tlsFingerprint: fingerprint.optional(),
  protectData: bool.default(true),
  clearControl: bool.default(false),
  tlsSessionReuse: bool.default(true),
  clientCert: filePath.optional(),
  clientKey: filePath.optional(),
  passive: bool.default(true),
  passiveCommand: z.enum(["auto", "epsv", "pasv"]).default("auto"),
  activeAddress: z
    .string()
    .refine((text) => isIP(text) !== 0, {
      error: "expected an IP address (the address the server should connect to)",
    })
    .optional(),
  activePorts: portRange.optional(),
  passiveAddress: z.enum(["auto", "control", "server"]).default("auto"),
  allowForeignDataHost: bool.default(false),
  list: z.enum(["auto", "mlsd", "list"]).default("auto"),
  listHidden: z.union([z.literal("auto"), bool]).default("auto"),
  listDateFormat: z.string().optional(),
  encoding: z
    .string()
    .default("utf8")
    .refine((name) => isSupportedEncoding(name), {
      error: "expected a code page Node's TextDecoder knows: utf8, latin1, cp1251, gbk, euc-kr, …",
    }),
  transferType: z.enum(["binary", "ascii"]).default("binary"),
});

export const sftpSettings = z.strictObject({
  type: z.literal("sftp"),
  ...common,
  ...network,
  auth: z.enum(["password", "key", "agent"]).optional(),
  privateKey: filePath.optional(),
  passphrase: safeText.optional(),
  agent: filePath.optional(),
  hostKeyTrust: z.enum(["fingerprint", "knownHosts", "insecure"]).default("fingerprint"),
  hostKey: z
    .string()
    .refine((text) => /^SHA256:[A-Za-z0-9+/]{43}=?$/.test(text), {
      error: "expected an OpenSSH fingerprint such as SHA256:abc…(43 characters)",
    })
    .optional(),
  knownHostsFile: filePath.optional(),
  algorithms: z
    .strictObject({
      cipher: z.array(z.string()).optional(),
      kex: z.array(z.string()).optional(),
      serverHostKey: z.array(z.string()).optional(),
      hmac: z.array(z.string()).optional(),
    })
    .optional(),
  sequentialWrites: bool.default(false),
});

export const storageSettings = z.discriminatedUnion("type", [
  localSettings,
  memorySettings,
  ftpSettings,
  sftpSettings,
]);

export type LocalSettings = z.infer<typeof localSettings>;
export type MemorySettings = z.infer<typeof memorySettings>;
export type FtpSettings = z.infer<typeof ftpSettings>;
export type SftpSettings = z.infer<typeof sftpSettings>;
export type StorageSettings = z.infer<typeof storageSettings>;
export type StorageSettingsInput = z.input<typeof storageSettings>;

export { SECRET_SETTINGS };

function isSupportedEncoding(name: string): boolean {
  try {
    new TextDecoder(name);
    return true;
  } catch {
    return false;
  }
}

/** Invalid settings; the message names every bad setting, its value and what is allowed. */
export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

/**
 * Validates and completes settings (defaults filled in, strings coerced). Throws a
 * SettingsError whose message names each bad setting. Secret values are never quoted.
 */
export function parseSettings(input: Record<string, unknown>): StorageSettings {
  const completed = impliedSettings(input);
  const result = storageSettings.safeParse(completed);
  if (result.success) return checkCombinations(result.data, completed);
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys
        .map((key) => {
          const near = closestSetting(key, input.type);
          const hint = near === undefined ? "" : ` (did you mean "${near}"?)`;
          return `unknown setting "${key}" for ${String(input.type)} destinations${hint}: docs/settings.md lists them all`;
        })
        .join("\n  ");
    }
    if (issue.code === "invalid_union" && name === "type") {
      return `destination type must be local, memory, ftp or sftp`;
    }
    const raw = name === "" ? undefined : valueAt(input, issue.path);
    const shown =
      raw === undefined
        ? "missing"
        : SECRET_SETTINGS.has(name)
          ? "(hidden)"
          : maskUserinfo(JSON.stringify(raw));
    return `setting "${name}" = ${shown}: ${issue.message}`;
  });
  throw new SettingsError(`Invalid destination settings:\n  ${lines.join("\n  ")}`);
}

/** The known setting nearest to a misspelt one (edit distance at most 3), if any. */
function closestSetting(key: string, type: unknown): string | undefined {
  const schema = {
    local: localSettings,
    memory: memorySettings,
    ftp: ftpSettings,
    sftp: sftpSettings,
  }[String(type) as "local"] as { shape: Record<string, unknown> } | undefined;
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(schema?.shape ?? {})) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance <= 3 && (best === undefined || distance < best.distance))
      best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
