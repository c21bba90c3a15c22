/**
 * ferry's command line. One file per command; this one wires them and turns errors into one
 * clear line and an exit code (docs/cli.md), never a stack trace for an expected failure.
 */
import { Command, CommanderError } from "commander";
import { StorageError } from "../storage/errors.ts";
import { SettingsError } from "../storage/settings.ts";
import { registerDestinationTest } from "./destination-test.ts";
import { EXIT, UsageError } from "./errors.ts";

export function buildProgram(): Command {
  const program = new Command("ferry")
    .description(
      "Deduplicated, compressed, encrypted backups to local disks and FTP, FTPS and SFTP servers.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  const destination = program
    .command("destination")
    .description("Work with destinations: where backups are stored (local, ftp, ftps, sftp)")
    .exitOverride();
  registerDestinationTest(destination);
  program.addHelpText(
    "after",
    `
Start here:
  ferry destination test ./backups                     check a local destination
  ferry destination test sftp://user@host/backups      check an SFTP server
  ferry destination test --help                        every setting and more examples`,
  );
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof UsageError || error instanceof SettingsError) {
    process.stderr.write(`ferry: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof StorageError) {
    process.stderr.write(`ferry: ${error.message}\n`);
    if (process.env.FERRY_DEBUG) process.stderr.write(`${String(error.stack)}\n`);
    return EXIT.failed;
  }
  process.stderr.write(
    `ferry: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return EXIT.failed;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
