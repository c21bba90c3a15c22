/** The flags every destination command shares: --set, --password-file, --protocol-log. */
import { type Command, Option } from "commander";
import { parseDestination, type ParsedDestination } from "../storage/url.ts";
import { UsageError } from "./errors.ts";
import { findPassword, needsPassword, promptPassword } from "./secrets.ts";

export interface DestinationFlags {
  set?: string[];
  passwordFile?: string;
  protocolLog?: string;
}

export function addDestinationFlags(command: Command): void {
  command
    .addOption(
      new Option(
        "-s, --set <key=value...>",
        "set a destination setting (repeatable), e.g. --set maxConnections=8",
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .option(
      "--password-file <file>",
      "read the password from a file (else FERRY_DESTINATION_PASSWORD, else a prompt on a terminal)",
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

/** URL + flags + password sources → validated settings. */
export async function resolveDestination(
  url: string,
  flags: DestinationFlags,
): Promise<ParsedDestination> {
  const overrides: Record<string, unknown> = parseSetFlags(flags.set);
  if ("password" in overrides) {
    throw new UsageError(
      "Refusing --set password=…: a password on the command line is visible to other users. Use --password-file or FERRY_DESTINATION_PASSWORD.",
    );
  }
  if (flags.protocolLog !== undefined) overrides.protocolLog = flags.protocolLog;
  const parsed = parseDestination(url, overrides);
  if (needsPassword(parsed.settings)) {
    const password =
      (await findPassword(flags.passwordFile)) ??
      (await promptPassword(
        `Password for ${"user" in parsed.settings ? (parsed.settings.user ?? "") : ""}@${"host" in parsed.settings ? parsed.settings.host : ""}: `,
      ));
    if (password !== undefined) return parseDestination(url, { ...overrides, password });
  }
  return parsed;
}
