/** `ferry check`: verify the repository's structure and, on request, its data. */
import type { Command } from "commander";
import { Option } from "commander";
import type { CheckOptions, CheckProgress, CheckReport } from "../backup/check.ts";
import { EXIT } from "./errors.ts";
import { formatCount, formatSize, plural, printJson } from "./format.ts";
import { percent } from "./parsers.ts";
import { ProgressLine } from "./progress.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";

interface CheckFlags extends RepoFlags {
  readData?: boolean;
  readDataSubset?: number;
}

/** Affected files listed per snapshot before the rest is summed up. */
const PATHS_SHOWN = 20;

/** Registers `ferry check`. */
export function registerCheck(program: Command): void {
  const command = program
    .command("check")
    .summary("verify the repository (and with --read-data, every byte)")
    .description(
      "Verify the repository as stored on the destination (never the local cache): index files, that every pack is there at its size, snapshots, every tree they reach, and that every blob they use is indexed. --read-data also downloads the packs and authenticates every blob.",
    )
    .addOption(
      new Option("--read-data", "download every pack and authenticate every blob").conflicts(
        "readDataSubset",
      ),
    )
    .option(
      "--read-data-subset <percent>",
      "download this share of the packs, chosen at random, e.g. 10%",
      percent("--read-data-subset"),
    )
    .option("--json", "print the report as JSON");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
Each problem names the object, what is wrong, and the snapshots and files whose data it loses.
A regular --read-data-subset (say 5% a week) reads the whole repository over time.

${PASSWORD_HELP}

Exit status: 0 no problems, 4 problems found (listed), 1 the check could not run, 2 bad usage,
10 no repository, 11 locked (prune is running), 12 wrong password.

Examples:
  ferry check -d /mnt/backup/ferry
  ferry check --read-data-subset 5%
  ferry check --read-data --json`,
  );
  command.action(async (flags: CheckFlags) => {
    const progress = ProgressLine.forTerminal(flags.json);
    const options: CheckOptions = {};
    if (flags.readData === true) options.readData = true;
    if (flags.readDataSubset !== undefined) options.readDataSubset = flags.readDataSubset;
    if (progress !== undefined) {
      options.onProgress = (p) => {
        progress.update(progressText(p));
      };
    }
    const { check } = await import("../backup/check.ts");
    const report = await withRepository(flags, (repo) => check(repo, options)).finally(() =>
      progress?.clear(),
    );
    if (flags.json === true) printJson({ ok: report.errors.length === 0, ...report });
    else process.stdout.write(reportText(report));
    if (report.errors.length > 0) process.exitCode = EXIT.damaged;
  });
}

const PHASES: Record<CheckProgress["phase"], string> = {
  index: "index files",
  packs: "packs",
  snapshots: "snapshots",
  trees: "trees",
  data: "reading packs",
};

function progressText(p: CheckProgress): string {
  return `check: ${PHASES[p.phase]} ${p.total > 0 ? `${p.done}/${p.total}` : String(p.done)}`;
}

function reportText(r: CheckReport): string {
  const s = r.stats;
  const lines = [
    `Checked:  ${plural(s.indexFiles, "index file")}, ${plural(s.packs, "pack")}, ${plural(s.blobs, "blob")}, ${plural(s.snapshots, "snapshot")}, ${plural(s.trees, "tree")}, ${plural(s.dataBlobs, "data blob")} in use`,
  ];
  if (s.packsRead > 0) {
    lines.push(`Read:     ${plural(s.packsRead, "pack")}, ${formatSize(s.bytesRead)}`);
  }
  for (const warning of r.warnings) lines.push(`warning: ${warning}`);
  if (r.errors.length === 0) {
    lines.push("No problems found.", "");
    return lines.join("\n");
  }
  lines.push("", `${plural(r.errors.length, "problem")} found:`);
  for (const problem of r.errors) {
    lines.push("", `- ${problem.message}`);
    if (problem.affected.length === 0) {
      lines.push("  No snapshot loses data through it.");
      continue;
    }
    for (const { snapshot, paths } of problem.affected) {
      if (paths.length === 0) {
        lines.push(`  snapshot ${snapshot.slice(0, 8)}: the whole snapshot`);
        continue;
      }
      lines.push(`  snapshot ${snapshot.slice(0, 8)}: ${plural(paths.length, "path")}`);
      for (const path of paths.slice(0, PATHS_SHOWN)) lines.push(`    ${path}`);
      if (paths.length > PATHS_SHOWN) {
        lines.push(`    … and ${formatCount(paths.length - PATHS_SHOWN)} more (--json lists all)`);
      }
    }
  }
  lines.push("");
  return lines.join("\n");
}
