/** `ferry backup`: store a snapshot of paths (or of standard input). */
import type { Command } from "commander";
import { Option } from "commander";
import type { BackupOptions, BackupProgress, BackupWarning } from "../backup/archiver.ts";
import { readPatternFile, type ExcludeOptions } from "../backup/excludes.ts";
import type { BackupSummary } from "../repo/snapshot.ts";
import { EXIT, UsageError } from "./errors.ts";
import { formatCount, formatDuration, formatRate, formatSize, printJsonLine } from "./format.ts";
import { collect, size, wholeNumber } from "./parsers.ts";
import { eta, ProgressLine, progressReporter } from "./progress.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";

interface BackupFlags extends RepoFlags {
  exclude?: string[];
  excludeFile?: string[];
  excludeIfPresent?: string[];
  excludeLargerThan?: number;
  oneFileSystem?: boolean;
  tag?: string[];
  host?: string;
  parent?: string;
  force?: boolean;
  stdin?: boolean;
  stdinFilename: string;
  workers?: number;
}

/** Registers `ferry backup`. */
export function registerBackup(program: Command): void {
  const command = program
    .command("backup")
    .summary("back up files and directories (or standard input) as a new snapshot")
    .description(
      "Back up files and directories as a new snapshot. Only what changed since the parent snapshot (the latest of this host with the same paths) is read again; data already in the repository is not stored twice.",
    )
    .argument("[paths...]", "files and directories to back up")
    .option("-e, --exclude <pattern>", "leave out paths matching a glob (repeatable)", collect)
    .option("--exclude-file <file>", "read exclude patterns from a file (repeatable)", collect)
    .option(
      "--exclude-if-present <name>",
      "leave out directories holding a file of this name, e.g. .nobackup (repeatable)",
      collect,
    )
    .option(
      "--exclude-larger-than <size>",
      "leave out files larger than this, e.g. 100M, 1GiB",
      size("--exclude-larger-than"),
    )
    .option("-x, --one-file-system", "do not cross into other filesystems (mounts)")
    .option("--tag <tag>", "tag the snapshot (repeatable; commas separate several)", collect)
    .option("--host <name>", "record this host name instead of this machine's")
    .addOption(
      new Option("--parent <id>", "compare with this snapshot instead of the latest").conflicts(
        "force",
      ),
    )
    .option("--force", "read every file again: compare with no parent snapshot")
    .option("--stdin", "back up standard input (a database dump) as one file")
    .option("--stdin-filename <name>", "the file name for --stdin", "stdin")
    .option("--workers <n>", "worker threads [one per core]", wholeNumber("--workers", 1))
    .option("--json", "print JSON lines: progress, warnings and the summary");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
Patterns: a pattern without / matches a name at any depth (*.log, node_modules); one starting
with / matches an absolute path and everything under it (/var/cache); any other matches the end
of a path (www/tmp). *, ?, [...] and ** work as in shell globs. An exclude file holds one
pattern per line; # starts a comment.

${PASSWORD_HELP}

Exit status: 0 saved, 3 saved but incomplete (some files could not be read; warnings name them),
1 failed (nothing saved), 2 bad usage, 10 no repository, 11 locked, 12 wrong password,
13 read-only destination.

Examples:
  ferry backup -d /mnt/backup/ferry /srv/www /etc
  ferry backup /home --exclude .cache --exclude "*.tmp" --exclude-if-present .nobackup
  ferry backup /var/lib --exclude-larger-than 1G --one-file-system --tag nightly
  mysqldump --all-databases | ferry backup --stdin --stdin-filename all.sql --tag db
  FERRY_DESTINATION=sftp://u123@box.example/ferry ferry backup /srv --json`,
  );
  command.action(async (paths: string[], flags: BackupFlags) => {
    const options = await backupOptions(paths, flags);
    const json = flags.json === true;
    const progress = ProgressLine.forTerminal(json);
    const started = performance.now();
    options.onWarning = (warning) => {
      if (json) printJsonLine({ type: "warning", ...warning });
      else (progress?.print.bind(progress) ?? warn)(warningLine(warning));
    };
    const onProgress = progressReporter(json, progress, started, progressText);
    if (onProgress !== undefined) options.onProgress = onProgress;
    const { backup } = await import("../backup/archiver.ts");
    const result = await withRepository(flags, (repo) => backup(repo, options)).finally(() =>
      progress?.clear(),
    );
    const summary = result.snapshot.summary;
    const skipped = result.warnings.filter((w) => w.skipped).length;
    const durationMs = Math.round(performance.now() - started);
    if (json) {
      printJsonLine({
        type: "summary",
        snapshot: result.id,
        incomplete: result.snapshot.incomplete === true,
        skipped,
        durationMs,
        ...summary,
      });
    } else {
      process.stdout.write(summaryText(result.id, summary, durationMs));
    }
    if (result.snapshot.incomplete === true) {
      if (!json) {
        warn(
          `ferry: ${skipped} item${skipped === 1 ? "" : "s"} could not be read and ${skipped === 1 ? "is" : "are"} missing from snapshot ${result.id.slice(0, 8)} (see the warnings above).`,
        );
      }
      process.exitCode = EXIT.incomplete;
    }
  });
}

/** Turns flags into the archiver's options; bad combinations are usage errors. */
async function backupOptions(paths: string[], flags: BackupFlags): Promise<BackupOptions> {
  if (flags.stdin === true && paths.length > 0) {
    throw new UsageError("Give either paths or --stdin, not both.");
  }
  if (flags.stdin !== true && paths.length === 0) {
    throw new UsageError(
      "Nothing to back up: give at least one path, or --stdin to back up standard input.",
    );
  }
  const patterns = [...(flags.exclude ?? [])];
  for (const file of flags.excludeFile ?? []) {
    try {
      patterns.push(...(await readPatternFile(file)));
    } catch (error) {
      throw new UsageError(`Cannot read the exclude file "${file}": ${(error as Error).message}.`);
    }
  }
  const exclude: ExcludeOptions = { patterns };
  if (flags.excludeIfPresent !== undefined) exclude.ifPresent = flags.excludeIfPresent;
  if (flags.excludeLargerThan !== undefined) exclude.largerThan = flags.excludeLargerThan;
  if (flags.oneFileSystem === true) exclude.oneFileSystem = true;
  const options: BackupOptions = {
    paths,
    exclude,
    tags: (flags.tag ?? []).flatMap((t) => t.split(",")).filter((t) => t !== ""),
  };
  if (flags.host !== undefined) options.host = flags.host;
  if (flags.force === true) options.parent = null;
  else if (flags.parent !== undefined) options.parent = flags.parent;
  if (flags.workers !== undefined) options.workers = flags.workers;
  if (flags.stdin === true) {
    if (process.stdin.isTTY) {
      throw new UsageError(
        "--stdin reads standard input, which is a terminal here; pipe the data in, e.g. `mysqldump … | ferry backup --stdin`.",
      );
    }
    options.stdin = { stream: process.stdin, filename: flags.stdinFilename };
  }
  return options;
}

function warn(line: string): void {
  process.stderr.write(`${line}\n`);
}

function warningLine(warning: BackupWarning): string {
  return warning.path === ""
    ? `warning: ${warning.message}`
    : `warning: ${warning.path}: ${warning.message}`;
}

/** `1,234/5,000 files  56.7 MiB/120.0 MiB  12.3 MiB/s  ETA 5.1s  /srv/www/index.html` */
function progressText(p: BackupProgress, elapsedMs: number): string {
  const total = p.scanDone;
  const files = total
    ? `${formatCount(p.files)}/${formatCount(p.totalFiles)} files`
    : `${formatCount(p.files)} files`;
  const bytes = total ? `${formatSize(p.bytes)}/${formatSize(p.totalBytes)}` : formatSize(p.bytes);
  const left = total ? eta(p.bytes, p.totalBytes, elapsedMs) : undefined;
  return [
    `[${formatDuration(elapsedMs)}]`,
    files,
    bytes,
    formatRate(p.bytes, elapsedMs),
    ...(left === undefined ? [] : [`ETA ${left}`]),
    p.current ?? "",
  ].join("  ");
}

function summaryText(id: string, s: BackupSummary | undefined, durationMs: number): string {
  if (s === undefined) return `Snapshot ${id.slice(0, 8)} saved.\n`;
  return [
    `Files:      ${formatCount(s.filesNew)} new, ${formatCount(s.filesChanged)} changed, ${formatCount(s.filesUnmodified)} unmodified`,
    `Dirs:       ${formatCount(s.dirs)}`,
    `Added:      ${formatSize(s.dataAdded)} of data, ${formatSize(s.dataAddedPacked)} stored (compressed, encrypted)`,
    `Processed:  ${formatCount(s.totalFiles)} files, ${formatSize(s.totalBytes)} in ${formatDuration(durationMs)}`,
    `Snapshot ${id.slice(0, 8)} saved.`,
    "",
  ].join("\n");
}
