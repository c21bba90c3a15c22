/** `ferry prune`: remove data that no snapshot needs. */
import type { Command } from "commander";
import type { PruneOptions, PruneProgress, PruneReport } from "../backup/prune.ts";
import type { Repository } from "../repo/repository.ts";
import { formatSize, plural, printJson } from "./format.ts";
import { percent } from "./parsers.ts";
import { ProgressLine } from "./progress.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";

/** Flags prune shares with `forget --prune`. */
export interface PruneFlags {
  dryRun?: boolean;
  /** Percent, as given on the command line. */
  maxUnused?: number;
}

/** Registers `ferry prune`. */
export function registerPrune(program: Command): void {
  const command = program
    .command("prune")
    .summary("remove data no snapshot needs")
    .description(
      "Remove data that no snapshot needs any more (after forget, or left by interrupted backups): packs nothing uses are removed, packs mostly unused are rewritten, the index is consolidated. Runs under an exclusive lock: no backup can run meanwhile.",
    )
    .option("-n, --dry-run", "show what would be removed, change nothing")
    .option(
      "--max-unused <percent>",
      "rewrite packs with more than this share of unused bytes [25%]",
      percent("--max-unused"),
    )
    .option("--json", "print the report as JSON");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
--max-unused 0% rewrites every pack with any unused byte (smallest repository, most traffic);
100% never rewrites, only removes packs that are wholly unused (least traffic).

${PASSWORD_HELP}

Exit status: 0 done, 4 the repository is damaged (prune stops before changing anything; run
ferry check), 11 locked (a backup or another command is running), 1 failed, 2 bad usage.

Examples:
  ferry prune -d /mnt/backup/ferry
  ferry prune --dry-run
  ferry prune --max-unused 10%`,
  );
  command.action(async (flags: RepoFlags & PruneFlags) => {
    const report = await withRepository(flags, (repo) => runPrune(repo, flags));
    if (flags.json === true) printJson(report);
    else process.stdout.write(pruneText(report));
  });
}

/** Runs prune with the flags' options and a progress line where one belongs. */
export async function runPrune(
  repo: Repository,
  flags: RepoFlags & PruneFlags,
): Promise<PruneReport> {
  const progress = ProgressLine.forTerminal(flags.json);
  const options: PruneOptions = {};
  if (flags.dryRun === true) options.dryRun = true;
  if (flags.maxUnused !== undefined) options.maxUnused = flags.maxUnused / 100;
  if (progress !== undefined) {
    options.onProgress = (p) => {
      progress.update(progressText(p));
    };
  }
  const { prune } = await import("../backup/prune.ts");
  try {
    return await prune(repo, options);
  } finally {
    progress?.clear();
  }
}

const PHASES: Record<PruneProgress["phase"], string> = {
  index: "reading the index",
  snapshots: "reading snapshots",
  trees: "reading trees",
  repack: "rewriting packs",
  "write-index": "writing the index",
  "remove-index": "removing old index files",
  "remove-packs": "removing packs",
};

function progressText(p: PruneProgress): string {
  const count = p.total > 0 ? ` ${p.done}/${p.total}` : p.done > 0 ? ` ${p.done}` : "";
  return `prune: ${PHASES[p.phase]}${count}`;
}

/** The report as people read it. */
export function pruneText(r: PruneReport): string {
  const packs = (c: { packs: number; bytes: number }): string =>
    `${plural(c.packs, "pack")} (${formatSize(c.bytes)})`;
  const would = r.dryRun ? "would be " : "";
  return [
    ...(r.dryRun ? ["Dry run: nothing was changed."] : []),
    `Used blobs:      ${plural(r.usedBlobs, "blob")} the snapshots need`,
    `Kept:            ${packs(r.kept)}, ${formatSize(r.kept.unusedBytes)} of it unused`,
    `Removed:         ${packs(r.removed)} ${would}removed: nothing in them is used`,
    `Rewritten:       ${packs(r.repacked)} ${would}rewritten, moving ${plural(r.repacked.blobsMoved, "blob")} (${formatSize(r.repacked.bytesMoved)})`,
    ...(r.dryRun ? [] : [`Written:         ${packs(r.written)}`]),
    `Unreferenced:    ${packs(r.unreferenced)} ${would}removed (left by interrupted backups)`,
    ...(r.temporary.objects > 0
      ? [
          `Temporary:       ${plural(r.temporary.objects, "object")} (${formatSize(r.temporary.bytes)}) of uploads that never finished ${would}removed`,
        ]
      : []),
    ...(r.missing > 0
      ? [`Missing:         ${plural(r.missing, "pack")} dropped from the index (none was needed)`]
      : []),
    `Index:           ${plural(r.indexFiles.removed, "file")} ${would}replaced by ${r.indexFiles.written}`,
    `Freed:           ${formatSize(r.bytesFreed)}${r.dryRun ? " would be freed" : ""}`,
    "",
  ].join("\n");
}
