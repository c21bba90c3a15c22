import { mkdirSync, chmodSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The catalog database's file name inside the catalog directory. */
export const CATALOG_FILE = "catalog.db";
/** The master key file's name, beside the database. */
export const MASTER_KEY_FILE = "master.key";

/**
 * The catalog directory: `FERRY_HOME`, else `$XDG_CONFIG_HOME/ferry`, else `~/.config/ferry`.
 * Empty variables count as unset, as the XDG spec asks.
 */
export function catalogDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["FERRY_HOME"]) return env["FERRY_HOME"];
  if (env["XDG_CONFIG_HOME"]) return join(env["XDG_CONFIG_HOME"], "ferry");
  return join(homedir(), ".config", "ferry");
}

/** Creates the catalog directory (and parents) if missing, mode 0700, and returns its path. */
export function ensureCatalogDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = catalogDir(env);
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode passes through the umask; the directory holds secrets, so pin it exactly.
  if (created !== undefined) chmodSync(dir, 0o700);
  return dir;
}
