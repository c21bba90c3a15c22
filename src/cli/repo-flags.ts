/**
 * The flags every repository command shares, and opening the repository they name: destination
 * URL and its settings and secrets, the repository password, the cache.
 */
import { type Command, Option } from "commander";
import type { OpenOptions, Repository } from "../repo/repository.ts";
import type { Storage } from "../storage/storage.ts";
import { resolveDestination } from "./destination-flags.ts";
import { repositoryPassword } from "./repo-password.ts";

/** Parsed repository flags (commander's camel-cased names). */
export interface RepoFlags {
  destination: string;
  set?: string[];
  protocolLog?: string;
  destinationPasswordFile?: string;
  passphraseFile?: string;
  passwordFile?: string;
  passwordCommand?: string;
  cacheDir?: string;
  /** False with `--no-cache`. */
  cache?: boolean;
  json?: boolean;
}

const GROUP = "Repository and destination:";

/** Adds the shared flags to a repository command, under their own help heading. */
export function addRepoFlags(command: Command): Command {
  const option = (flags: string, description: string): Option =>
    new Option(flags, description).helpGroup(GROUP);
  return command
    .addOption(
      option(
        "-d, --destination <url>",
        "where the repository is: a local path, sftp://user@host/dir, ftpes://user@host/dir, …",
      )
        .env("FERRY_DESTINATION")
        .makeOptionMandatory(),
    )
    .addOption(
      option("--password-file <file>", "read the repository password from a file").conflicts(
        "passwordCommand",
      ),
    )
    .addOption(
      option(
        "--password-command <cmd>",
        "run a command (via /bin/sh -c) that prints the repository password",
      ),
    )
    .addOption(
      option(
        "-s, --set <key=value>",
        "a destination setting (repeatable), e.g. --set maxConnections=8; see docs/settings.md",
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .addOption(
      option(
        "--destination-password-file <file>",
        "read the destination's (FTP/SFTP) password from a file (else FERRY_DESTINATION_PASSWORD)",
      ),
    )
    .addOption(
      option(
        "--passphrase-file <file>",
        "read the SSH key's passphrase from a file (else FERRY_DESTINATION_PASSPHRASE)",
      ),
    )
    .addOption(
      option("--protocol-log <file>", "append every command and reply to a file (secrets masked)"),
    )
    .addOption(
      option("--cache-dir <dir>", "keep the local cache here (else FERRY_CACHE or ~/.cache/ferry)"),
    )
    .addOption(option("--no-cache", "use no local cache: read everything from the destination"));
}

/** Text for a command's help: where the password comes from. */
export const PASSWORD_HELP = `The repository password comes from --password-file, --password-command, FERRY_PASSWORD,
or a prompt on a terminal. The destination comes from -d or FERRY_DESTINATION.`;

/** The cache the flags ask for: a directory, none (`null`), or the default (left out). */
export function openOptions(flags: RepoFlags): OpenOptions {
  if (flags.cache === false) return { cacheRoot: null };
  return flags.cacheDir === undefined ? {} : { cacheRoot: flags.cacheDir };
}

/** Resolves the destination (printing its warnings) and connects. */
export async function connect(flags: RepoFlags): Promise<Storage> {
  const { settings, warnings } = await resolveDestination(
    flags.destination,
    {
      ...(flags.set === undefined ? {} : { set: flags.set }),
      ...(flags.destinationPasswordFile === undefined
        ? {}
        : { passwordFile: flags.destinationPasswordFile }),
      ...(flags.passphraseFile === undefined ? {} : { passphraseFile: flags.passphraseFile }),
      ...(flags.protocolLog === undefined ? {} : { protocolLog: flags.protocolLog }),
    },
    { password: "--destination-password-file", passphrase: "--passphrase-file" },
  );
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  // Loaded when used, as the engine is in every command: `ferry --help` stays quick.
  const { openStorage } = await import("../storage/open.ts");
  return openStorage(settings);
}

/** The repository password the flags (or the environment, or the terminal) give. */
export function passwordFrom(flags: RepoFlags, confirm = false): Promise<string> {
  return repositoryPassword({ file: flags.passwordFile, command: flags.passwordCommand }, confirm);
}

/**
 * Opens the repository, runs `work` with it, and closes the connections whatever happens. The
 * password is asked for before connecting, so a missing one fails without network traffic.
 */
export async function withRepository<T>(
  flags: RepoFlags,
  work: (repo: Repository) => Promise<T>,
): Promise<T> {
  const password = await passwordFrom(flags);
  const storage = await connect(flags);
  try {
    const { Repository } = await import("../repo/repository.ts");
    const repo = await Repository.open(storage, password, openOptions(flags));
    return await work(repo);
  } finally {
    await storage.close();
  }
}
