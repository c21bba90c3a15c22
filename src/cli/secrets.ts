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

/** Reads the password from the first source that has one, or undefined. */
export async function findPassword(passwordFile: string | undefined): Promise<string | undefined> {
  if (passwordFile !== undefined) {
    try {
      return (await readFile(passwordFile, "utf8")).replace(/\r?\n$/, "");
    } catch (error) {
      throw new UsageError(
        `Cannot read the password file "${passwordFile}": ${(error as Error).message}.`,
      );
    }
  }
  return process.env.FERRY_DESTINATION_PASSWORD;
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
