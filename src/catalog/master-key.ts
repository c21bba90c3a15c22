import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { CatalogError } from "./errors.ts";

const KEY_BYTES = 32;
const FORMS = `32 bytes as base64 (44 characters) or as 64 hex characters`;

/** Where the master key comes from, in order: `FERRY_MASTER_KEY`, `masterKeyCommand`, `keyFile`. */
export interface MasterKeyOptions {
  /** The `master.key` file beside the database; created with mode 0600 if missing. */
  readonly keyFile: string;
  /** A shell command (run with `/bin/sh -c`) whose trimmed stdout is the key. */
  readonly masterKeyCommand?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Parses a key in either accepted form; `source` names where it came from in the error, which
 * never quotes the value.
 */
export function parseMasterKey(text: string, source: string): Buffer {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, "hex");
  if (/^[A-Za-z0-9+/]{43}=?$/.test(value)) {
    const key = Buffer.from(value, "base64");
    if (key.length === KEY_BYTES) return key;
  }
  throw new CatalogError(
    "MASTER_KEY",
    `${source} is not a valid master key: expected ${FORMS} (${value.length} characters given)`,
  );
}

/** Loads the 32-byte key that seals the catalog's secrets. */
export function loadMasterKey(options: MasterKeyOptions): Buffer {
  const env = options.env ?? process.env;
  const fromEnv = env["FERRY_MASTER_KEY"];
  if (fromEnv !== undefined && fromEnv !== "") return parseMasterKey(fromEnv, "FERRY_MASTER_KEY");
  if (options.masterKeyCommand !== undefined) return keyFromCommand(options.masterKeyCommand);
  return keyFromFile(options.keyFile);
}

function keyFromCommand(command: string): Buffer {
  let stdout: string;
  try {
    stdout = execFileSync("/bin/sh", ["-c", command], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024,
    });
  } catch (error) {
    // stdout is left out of the error: a failing command may still have printed the key.
    const stderr = errorStderr(error).trim().slice(0, 300);
    throw new CatalogError(
      "MASTER_KEY",
      `The master key command failed: ${command}${stderr ? `\n${stderr}` : ""}`,
    );
  }
  return parseMasterKey(stdout, `The output of the master key command (${command})`);
}

function errorStderr(error: unknown): string {
  if (typeof error === "object" && error !== null && "stderr" in error) {
    const { stderr } = error;
    if (typeof stderr === "string") return stderr;
  }
  return "";
}

function keyFromFile(path: string): Buffer {
  const created = createKeyFile(path);
  if (created) return created;
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new CatalogError(
      "MASTER_KEY",
      `The master key file ${path} can be read by other users (mode ${mode.toString(8).padStart(4, "0")}); fix it with: chmod 600 ${path}`,
    );
  }
  return parseMasterKey(readFileSync(path, "utf8"), `The master key file ${path}`);
}

/** Writes a fresh key if the file does not exist yet; returns undefined if it already did. */
function createKeyFile(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "EEXIST") return undefined;
    throw error;
  }
  const key = randomBytes(KEY_BYTES);
  try {
    writeSync(fd, `${key.toString("base64")}\n`);
  } finally {
    closeSync(fd);
  }
  return key;
}
