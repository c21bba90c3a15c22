/**
 * Where the repository password comes from: `--password-file`, `--password-command`,
 * `FERRY_PASSWORD`, or a prompt on a terminal. Never from a flag's value, which shell history
 * and process lists would show.
 */
import { spawn } from "node:child_process";
import { findSecret, promptPassword } from "./secrets.ts";
import { UsageError } from "./errors.ts";

/** The flags naming a password source. */
export interface PasswordSource {
  /** A file holding the password (one trailing newline is dropped). */
  file?: string | undefined;
  /** A shell command printing the password on stdout. */
  command?: string | undefined;
  /** The environment variable consulted when neither flag is given. */
  variable?: string | undefined;
}

/** How the sources are spelled on the command line, for messages. */
interface SourceNames {
  file: string;
  command: string;
  variable: string;
}

const REPOSITORY_NAMES: SourceNames = {
  file: "--password-file FILE",
  command: "--password-command CMD",
  variable: "FERRY_PASSWORD",
};

const NEW_NAMES: SourceNames = {
  file: "--new-password-file FILE",
  command: "--new-password-command CMD",
  variable: "FERRY_NEW_PASSWORD",
};

/**
 * Runs `command` through /bin/sh and returns its stdout without one trailing newline. Its stdin
 * and stderr are ours, so a password manager can ask for its own unlock.
 */
export async function runPasswordCommand(command: string): Promise<string> {
  // Standard input only when it is a terminal: a pipe may carry `backup --stdin` data, which a
  // command that reads its input would silently eat.
  const child = spawn("/bin/sh", ["-c", command], {
    stdio: [process.stdin.isTTY ? "inherit" : "ignore", "pipe", "inherit"],
  });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  const status = await new Promise<number | string>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve(code ?? signal ?? "unknown");
    });
  });
  // The command line is printed, never its output: the output is the password.
  if (status !== 0) {
    throw new UsageError(
      `The password command \`${command}\` failed (${typeof status === "number" ? `exit status ${status}` : `signal ${status}`}); run it by hand to see why.`,
    );
  }
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function fromSources(
  source: PasswordSource,
  names: SourceNames,
): Promise<string | undefined> {
  if (source.file !== undefined && source.command !== undefined) {
    throw new UsageError(
      `Give either ${names.file} or ${names.command}, not both: the password has one source.`,
    );
  }
  if (source.command !== undefined) return runPasswordCommand(source.command);
  return findSecret("password", source.file, source.variable ?? names.variable);
}

async function ask(question: string, confirm: boolean): Promise<string | undefined> {
  const first = await promptPassword(question);
  if (first === undefined || !confirm) return first;
  const second = await promptPassword("Enter it again to confirm: ");
  if (second !== first) throw new UsageError("The two passwords differ; nothing was changed.");
  return first;
}

/**
 * The repository password. With `confirm` (init), a prompt asks twice. Without any source and
 * no terminal to ask on, a UsageError names the three ways to give one.
 */
export async function repositoryPassword(source: PasswordSource, confirm = false): Promise<string> {
  const password =
    (await fromSources(source, REPOSITORY_NAMES)) ??
    (await ask(
      confirm ? "Choose a password for the new repository: " : "Repository password: ",
      confirm,
    ));
  if (password === undefined) throw noSource(REPOSITORY_NAMES, "repository password");
  return password;
}

/** The new password of `key add` and `key passwd`: its own flags, else a prompt asked twice. */
export async function newKeyPassword(source: PasswordSource): Promise<string> {
  const password = (await fromSources(source, NEW_NAMES)) ?? (await ask("New password: ", true));
  if (password === undefined) throw noSource(NEW_NAMES, "new password");
  return password;
}

function noSource(names: SourceNames, what: string): UsageError {
  return new UsageError(
    `No ${what} given and no terminal to ask on: set ${names.variable}, or pass ${names.file} or ${names.command}.`,
  );
}
