/** The flags every destination command shares: --set, --password-file, --protocol-log. */
import { type Command, Option } from "commander";
import { parseDestination, type ParsedDestination } from "../storage/url.ts";
import { UsageError } from "./errors.ts";
import { findSecret, mayNeedPassphrase, needsPassword, promptPassword } from "./secrets.ts";

/** Parsed destination flags; `passwordFile` is the destination's password. */
export interface DestinationFlags {
  set?: string[];
  passwordFile?: string;
  passphraseFile?: string;
  protocolLog?: string;
}

/** Adds the destination flags of `ferry destination test`. */
export function addDestinationFlags(command: Command): void {
  command
    .addOption(
      new Option(
        "-s, --set <key=value>",
        "set a destination setting (repeatable), e.g. --set maxConnections=8",
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .option(
      "--password-file <file>",
      "read the password from a file (else FERRY_DESTINATION_PASSWORD, else a prompt on a terminal)",
    )
    .option(
      "--passphrase-file <file>",
      "read the SSH key's passphrase from a file (else FERRY_DESTINATION_PASSPHRASE)",
    )
    .option("--protocol-log <file>", "append every command and reply to a file (secrets masked)");
}

/** Parses `--set key=value` pairs. */
export function parseSetFlags(pairs: readonly string[] = []): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs) {
    const cut = pair.indexOf("=");
    if (cut <= 0) {
      throw new UsageError(
        `Cannot read --set "${pair}": expected key=value, e.g. --set passive=false.`,
      );
    }
    result[pair.slice(0, cut).trim()] = pair.slice(cut + 1);
  }
  return result;
}

/**
 * The flags that carry the destination's secrets, named in messages. Repository commands use
 * `--password-file` for the repository password, so theirs is `--destination-password-file`.
 */
export interface SecretFlagNames {
  password: string;
  passphrase: string;
}

const DESTINATION_TEST_NAMES: SecretFlagNames = {
  password: "--password-file",
  passphrase: "--passphrase-file",
};

/** URL + flags + password sources → validated settings. */
export async function resolveDestination(
  url: string,
  flags: DestinationFlags,
  names: SecretFlagNames = DESTINATION_TEST_NAMES,
): Promise<ParsedDestination> {
  const overrides: Record<string, unknown> = parseSetFlags(flags.set);
  for (const secret of ["password", "passphrase"] as const) {
    if (secret in overrides) {
      throw new UsageError(
        `Refusing --set ${secret}=…: a ${secret} on the command line is visible to other users. Use ${names[secret]} or FERRY_DESTINATION_${secret.toUpperCase()}.`,
      );
    }
  }
  if (flags.protocolLog !== undefined) overrides.protocolLog = flags.protocolLog;
  let parsed = parseDestination(url, overrides);
  const { settings } = parsed;
  if (needsPassword(settings)) {
    const where = `${"user" in settings ? (settings.user ?? "") : ""}@${"host" in settings ? settings.host : ""}`;
    const password =
      (await findSecret("password", flags.passwordFile, "FERRY_DESTINATION_PASSWORD")) ??
      (await promptPassword(`Password for ${where}: `));
    if (password !== undefined) overrides.password = password;
  }
  if (mayNeedPassphrase(settings)) {
    const passphrase = await findSecret(
      "passphrase",
      flags.passphraseFile,
      "FERRY_DESTINATION_PASSPHRASE",
    );
    if (passphrase !== undefined) overrides.passphrase = passphrase;
  }
  if ("password" in overrides || "passphrase" in overrides) {
    parsed = { ...parseDestination(url, overrides), warnings: parsed.warnings };
  }
  return parsed;
}
