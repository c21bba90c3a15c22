/**
 * Where a destination password comes from: `--password-file`, `FERRY_DESTINATION_PASSWORD`,
 * or a prompt on a terminal. Never from a flag value (shell history, process lists).
 */
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { StorageSettings } from "../storage/settings.ts";
import { UsageError } from "./errors.ts";

/** True when the settings need a password that they do not hold. */
export function needsPassword(settings: StorageSettings): boolean {
  if (settings.type === "ftp") return !settings.anonymous && settings.password === undefined;
  if (settings.type === "sftp") {
    if (settings.password !== undefined) return false;
    return (
      settings.auth === "password" ||
      (settings.auth === undefined && settings.privateKey === undefined)
    );
  }
  return false;
}

/** True when the settings name an encrypted-looking key but hold no passphrase. */
export function mayNeedPassphrase(settings: StorageSettings): boolean {
  return (
    settings.type === "sftp" &&
    settings.privateKey !== undefined &&
    settings.passphrase === undefined
  );
}

/**
 * Reads a secret from the first source that has one: the file, else the environment variable.
 * `what` names it in errors ("password", "passphrase").
 */
export async function findSecret(
  what: string,
  file: string | undefined,
  variable: string,
): Promise<string | undefined> {
  if (file !== undefined) {
    try {
      return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
    } catch (error) {
      throw new UsageError(`Cannot read the ${what} file "${file}": ${(error as Error).message}.`);
    }
  }
  return process.env[variable];
}

/** Asks on the terminal without echo; undefined when there is no terminal to ask on. */
export async function promptPassword(question: string): Promise<string | undefined> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const muted = rl as unknown as { _writeToOutput: (text: string) => void };
  process.stderr.write(question);
  muted._writeToOutput = () => undefined;
  try {
    return await new Promise<string>((resolve) => {
      rl.question("", resolve);
    });
  } finally {
    rl.close();
    process.stderr.write("\n");
  }
}
