/** `ferry restore`: write a snapshot, or part of it, into a directory. */
import type { Command } from "commander";
import { Option } from "commander";
import type { RestoreOptions, RestoreProgress, RestoreResult } from "../backup/restorer.ts";
import { EXIT } from "./errors.ts";
import {
  formatCount,
  formatDuration,
  formatRate,
  formatSize,
  plural,
  printJsonLine,
} from "./format.ts";
import { collect, snapshotAndPath } from "./parsers.ts";
import { eta, ProgressLine, progressReporter } from "./progress.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";

interface RestoreFlags extends RepoFlags {
  target: string;
  include?: string[];
  exclude?: string[];
  overwrite: "always" | "if-changed" | "never";
  owner?: boolean;
}

/** Registers `ferry restore`. */
export function registerRestore(program: Command): void {
  const command = program
    .command("restore")
    .summary("restore a snapshot into a directory")
    .description(
      "Restore a snapshot, or the part of it below a path, into a directory. Every byte written is authenticated first. Nothing in the target that the snapshot lacks is removed.",
    )
    .argument(
      "<snapshot>",
      'a snapshot id (4+ hex digits) or "latest", optionally :/path to restore only that part',
    )
    .requiredOption("-t, --target <dir>", "the directory to restore into (created if missing)")
    .option(
      "-i, --include <glob>",
      "restore only matching paths and what is below them (repeatable)",
      collect,
    )
    .option("-e, --exclude <glob>", "leave out matching paths (repeatable)", collect)
    .addOption(
      new Option("--overwrite <when>", "what to do with files already in the target")
        .choices(["always", "if-changed", "never"])
        .default("if-changed"),
    )
    .option("--owner", "restore owners and groups (the default when run as root)")
    .option("--no-owner", "leave owners and groups as the restoring user")
    .option("--json", "print JSON lines: progress, warnings and the summary");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
With :/path, what is below the path goes straight into the target: latest:/srv/www restores
/srv/www/index.html as TARGET/index.html. Patterns follow the backup --exclude rules and are
matched against paths in the snapshot (/srv/www/...).

--overwrite if-changed (the default) leaves a file alone when it already holds the snapshot's
contents; always rewrites it; never leaves every existing file as it is.

${PASSWORD_HELP}

Exit status: 0 restored, 4 some files could not be restored because the repository is damaged
(everything else was restored; run ferry check), 1 some files could not be written to the
target (warnings name them) or the restore failed, 2 bad usage, 10/11/12 as for every command.

Examples:
  ferry restore latest --target /tmp/restore
  ferry restore latest:/srv/www --target /srv/www --overwrite always
  ferry restore 1a2b3c4d --target /tmp/r --include "/home/alice/**" --exclude "*.tmp"
  ferry restore latest:/etc --target /tmp/etc --json`,
  );
  command.action(async (target: string, flags: RestoreFlags) => {
    const { ref, path } = snapshotAndPath(target);
    const json = flags.json === true;
    const progress = ProgressLine.forTerminal(json);
    const started = performance.now();
    const options: RestoreOptions = { target: flags.target, overwrite: flags.overwrite };
    if (path !== undefined) options.path = path;
    if (flags.include !== undefined) options.include = flags.include;
    if (flags.exclude !== undefined) options.exclude = flags.exclude;
    if (flags.owner !== undefined) options.owner = flags.owner;
    options.onWarning = (message) => {
      if (json) printJsonLine({ type: "warning", message });
      else if (progress !== undefined) progress.print(`warning: ${message}`);
      else process.stderr.write(`warning: ${message}\n`);
    };
    const onProgress = progressReporter(json, progress, started, progressText);
    if (onProgress !== undefined) options.onProgress = onProgress;
    let result: RestoreResult;
    let damaged: string[] = [];
    let snapshotId = "";
    const { restore, RestoreDamagedError } = await import("../backup/restorer.ts");
    try {
      result = await withRepository(flags, async (repo) => {
        const entry = await repo.resolveSnapshot(ref);
        await repo.loadIndex();
        snapshotId = entry.id;
        try {
          return await restore(repo, entry, options);
        } catch (error) {
          if (!(error instanceof RestoreDamagedError)) throw error;
          damaged = error.files;
          return error.result;
        }
      });
    } finally {
      progress?.clear();
    }
    // The restorer words every skipped item this way; other warnings lose only metadata.
    const notRestored = result.warnings.filter((w) => w.includes(": not restored")).length;
    const durationMs = Math.round(performance.now() - started);
    if (json) {
      printJsonLine({
        type: "summary",
        snapshot: snapshotId,
        target: flags.target,
        ...result,
        warnings: result.warnings.length,
        notRestored,
        damaged,
        durationMs,
      });
    } else {
      process.stdout.write(summaryText(result, durationMs));
    }
    if (damaged.length > 0) {
      if (!json) {
        process.stderr.write(
          `ferry: ${plural(damaged.length, "file")} could not be restored because the repository is damaged; run \`ferry check\`.\n`,
        );
      }
      process.exitCode = EXIT.damaged;
    } else if (notRestored > 0) {
      if (!json) {
        process.stderr.write(
          `ferry: ${plural(notRestored, "item")} could not be restored (see the warnings above).\n`,
        );
      }
      process.exitCode = EXIT.failed;
    }
  });
}

function progressText(p: RestoreProgress, elapsedMs: number): string {
  const left = eta(p.bytes, p.totalBytes, elapsedMs);
  return [
    `[${formatDuration(elapsedMs)}]`,
    `${formatCount(p.files)}/${formatCount(p.totalFiles)} files`,
    `${formatSize(p.bytes)}/${formatSize(p.totalBytes)}`,
    formatRate(p.bytes, elapsedMs),
    ...(left === undefined ? [] : [`ETA ${left}`]),
    p.current ?? "",
  ].join("  ");
}

function summaryText(r: RestoreResult, durationMs: number): string {
  return [
    `Restored:   ${plural(r.files, "file")}, ${plural(r.dirs, "dir")}, ${plural(r.symlinks, "symlink")}, ${plural(r.hardlinks, "hardlink")}`,
    `Written:    ${formatSize(r.bytes)} in ${formatDuration(durationMs)}`,
    ...(r.skipped > 0 ? [`Left alone: ${plural(r.skipped, "existing item")} (--overwrite)`] : []),
    "",
  ].join("\n");
}
