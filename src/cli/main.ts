/**
 * ferry's command line. One file per command; this one wires them and turns errors into one
 * clear line and an exit code (docs/cli.md), never a stack trace for an expected failure.
 */
import { Command, CommanderError } from "commander";
import { DurationSyntaxError } from "../backup/duration.ts";
import { RetentionError } from "../backup/retention.ts";
import { RepoError, type RepoErrorCode } from "../repo/errors.ts";
import { StorageError } from "../storage/errors.ts";
import { SettingsError } from "../storage/settings.ts";
import { registerBackup } from "./cmd-backup.ts";
import { registerCheck } from "./cmd-check.ts";
import { registerDiff } from "./cmd-diff.ts";
import { registerDump } from "./cmd-dump.ts";
import { registerFind } from "./cmd-find.ts";
import { registerForget } from "./cmd-forget.ts";
import { registerInit } from "./cmd-init.ts";
import { registerKey } from "./cmd-key.ts";
import { registerLs } from "./cmd-ls.ts";
import { registerPrune } from "./cmd-prune.ts";
import { registerRestore } from "./cmd-restore.ts";
import { registerSnapshots } from "./cmd-snapshots.ts";
import { registerStats } from "./cmd-stats.ts";
import { registerUnlock } from "./cmd-unlock.ts";
import { registerDestinationTest } from "./destination-test.ts";
import { EXIT, UsageError, type ExitCode } from "./errors.ts";

/** The whole command tree. */
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
  registerInit(program);
  registerBackup(program);
  registerSnapshots(program);
  registerLs(program);
  registerFind(program);
  registerDiff(program);
  registerStats(program);
  registerRestore(program);
  registerDump(program);
  registerForget(program);
  registerPrune(program);
  registerCheck(program);
  registerKey(program);
  registerUnlock(program);
  program.addHelpText(
    "after",
    `
Start here:
  ferry destination test ./backups                     check a local destination
  ferry destination test sftp://user@host/backups      check an SFTP server
  ferry destination test --help                        every setting and more examples
  export FERRY_DESTINATION=/mnt/backup/ferry           where the repository is
  ferry init                                           create it (asks for a password)
  ferry backup /srv /etc                               back up
  ferry snapshots                                      list backups
  ferry restore latest:/srv/www --target /tmp/www      restore

Exit status: 0 ok, 1 failed, 2 bad usage, 3 backup incomplete, 4 damaged data,
10 no repository, 11 locked, 12 wrong password, 13 read-only destination (docs/cli.md).`,
  );
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  // Commands report a non-zero status through process.exitCode; keep a caller's own value out
  // of this run and give it back afterwards, so main can run several times in one process.
  const outer = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    return report(error);
  } finally {
    process.exitCode = outer;
  }
}

const REPO_EXIT: Record<RepoErrorCode, ExitCode> = {
  NO_REPOSITORY: EXIT.noRepository,
  LOCKED: EXIT.locked,
  WRONG_PASSWORD: EXIT.wrongPassword,
  DAMAGED: EXIT.damaged,
  EXISTS: EXIT.failed,
  UNSUPPORTED_VERSION: EXIT.failed,
  NOT_FOUND: EXIT.failed,
  // A bad snapshot id, an ambiguous prefix, nothing to back up: how ferry was called.
  INVALID: EXIT.usage,
};

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (
    error instanceof UsageError ||
    error instanceof SettingsError ||
    error instanceof RetentionError ||
    error instanceof DurationSyntaxError
  ) {
    process.stderr.write(`ferry: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof RepoError) {
    process.stderr.write(`ferry: ${error.message}\n`);
    if (process.env.FERRY_DEBUG) process.stderr.write(`${String(error.stack)}\n`);
    return REPO_EXIT[error.code];
  }
  if (error instanceof StorageError) {
    process.stderr.write(`ferry: ${error.message}\n`);
    if (process.env.FERRY_DEBUG) process.stderr.write(`${String(error.stack)}\n`);
    // The read-only wrapper refuses every write with UNSUPPORTED and says so in its message;
    // other UNSUPPORTED errors (no MFMT, no free-space query) are plain failures.
    if (error.code === "UNSUPPORTED" && error.message.includes("destination is read-only")) {
      return EXIT.readOnly;
    }
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
