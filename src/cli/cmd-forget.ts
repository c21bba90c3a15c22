/** `ferry forget`: remove snapshots by a retention policy, optionally pruning their data. */
import type { Command } from "commander";
import { SNAPSHOT_COLUMNS, snapshotRow, snapshotTable } from "./snapshot-table.ts";
import { parseCalendarDuration } from "../backup/duration.ts";
import type { ForgetCandidate, ForgetReport } from "../backup/forget.ts";
import type { PruneReport } from "../backup/prune.ts";
import {
  parseGroupBy,
  type GroupDecision,
  type RetentionPolicy,
  type SnapshotGroup,
} from "../backup/retention.ts";
import { snapshotJson } from "./cmd-snapshots.ts";
import { pruneText, runPrune, type PruneFlags } from "./cmd-prune.ts";
import { UsageError } from "./errors.ts";
import { plural, printJson, table } from "./format.ts";
import { collect, percent, wholeNumber } from "./parsers.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";

interface ForgetFlags extends RepoFlags, PruneFlags {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
  keepTag?: string[];
  host?: string[];
  groupBy: string;
  prune?: boolean;
}

const count = (flag: string): ((value: string) => number) => wholeNumber(flag, -1);

/** Registers `ferry forget`. */
export function registerForget(program: Command): void {
  const command = program
    .command("forget")
    .summary("remove snapshots by a retention policy (--keep-*)")
    .description(
      "Remove snapshots that a retention policy does not keep. Snapshots are grouped (by host and paths unless --group-by says otherwise) and each group is decided on its own, newest first; a snapshot is kept when any rule keeps it. Only snapshot files are removed: their data stays until prune (--prune runs it).",
    )
    .option("--keep-last <n>", "keep the n newest snapshots", count("--keep-last"))
    .option(
      "--keep-hourly <n>",
      "keep the newest snapshot of each of the last n hours",
      count("--keep-hourly"),
    )
    .option(
      "--keep-daily <n>",
      "keep the newest snapshot of each of the last n days",
      count("--keep-daily"),
    )
    .option(
      "--keep-weekly <n>",
      "keep the newest snapshot of each of the last n ISO weeks",
      count("--keep-weekly"),
    )
    .option(
      "--keep-monthly <n>",
      "keep the newest snapshot of each of the last n months",
      count("--keep-monthly"),
    )
    .option(
      "--keep-yearly <n>",
      "keep the newest snapshot of each of the last n years",
      count("--keep-yearly"),
    )
    .option(
      "--keep-within <duration>",
      "keep every snapshot younger than this before the group's newest, e.g. 7d, 2w, 1y6m",
    )
    .option("--keep-tag <tag>", "keep every snapshot with this tag (repeatable)", collect)
    .option("--host <host>", "only snapshots of this host (repeatable)", collect)
    .option(
      "--group-by <fields>",
      'group by host, paths and/or tags; "" for one group',
      "host,paths",
    )
    .option("-n, --dry-run", "show what would be removed, remove nothing")
    .option("--prune", "run prune afterwards, removing the data only removed snapshots used")
    .option(
      "--max-unused <percent>",
      "with --prune: rewrite packs with more than this share unused [25%]",
      percent("--max-unused"),
    )
    .option("--json", "print the decisions (and the prune report) as JSON");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
Counts take -1 for unlimited. Hourly, daily, weekly, monthly and yearly rules keep the newest
snapshot of each hour, day, ISO week, month or year, walking back until n such snapshots are
kept; when a rule has some left at the oldest snapshot, that one is kept too. A policy that
keeps nothing is refused.

${PASSWORD_HELP}

Exit status: 0 done, 2 bad policy or flags, 11 locked, and as for prune with --prune.

Examples:
  ferry forget --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run
  ferry forget --keep-last 3 --keep-within 30d --prune
  ferry forget --keep-daily 14 --keep-tag keep --host web1 --group-by host`,
  );
  command.action(async (flags: ForgetFlags) => {
    const policy = policyFrom(flags);
    const groupBy = parseGroupBy(flags.groupBy);
    if (flags.maxUnused !== undefined && flags.prune !== true) {
      throw new UsageError("--max-unused applies to --prune; add --prune or leave it out.");
    }
    const { forget } = await import("../backup/forget.ts");
    const { report, pruned } = await withRepository(flags, async (repo) => {
      const report = await forget(repo, policy, {
        groupBy,
        now: new Date(),
        ...(flags.host === undefined ? {} : { hosts: flags.host }),
        ...(flags.dryRun === true ? { dryRun: true } : {}),
      });
      const pruned: PruneReport | undefined =
        flags.prune === true ? await runPrune(repo, flags) : undefined;
      return { report, pruned };
    });
    if (flags.json === true) {
      printJson({
        dryRun: report.dryRun,
        groups: report.groups.map((g) => ({
          group: g.group,
          keep: g.keep.map((k) => ({ ...snapshotJson(k.snapshot.entry), reasons: k.reasons })),
          remove: g.remove.map((s) => snapshotJson(s.entry)),
        })),
        removed: report.removed,
        ...(pruned === undefined ? {} : { prune: pruned }),
      });
      return;
    }
    process.stdout.write(forgetText(report, pruned !== undefined));
    if (pruned !== undefined) process.stdout.write(`\n${pruneText(pruned)}`);
  });
}

function policyFrom(flags: ForgetFlags): RetentionPolicy {
  return {
    keepLast: flags.keepLast,
    keepHourly: flags.keepHourly,
    keepDaily: flags.keepDaily,
    keepWeekly: flags.keepWeekly,
    keepMonthly: flags.keepMonthly,
    keepYearly: flags.keepYearly,
    keepWithin:
      flags.keepWithin === undefined ? undefined : parseCalendarDuration(flags.keepWithin),
    keepTags: flags.keepTag,
  };
}

function groupTitle(group: SnapshotGroup): string {
  const parts = [
    ...(group.host === undefined ? [] : [`host ${group.host}`]),
    ...(group.paths === undefined ? [] : [`paths ${group.paths.join(", ")}`]),
    ...(group.tags === undefined
      ? []
      : [`tags ${group.tags.length === 0 ? "(none)" : group.tags.join(", ")}`]),
  ];
  return parts.length === 0 ? "All snapshots" : `Snapshots of ${parts.join("; ")}`;
}

function groupText(g: GroupDecision<ForgetCandidate>, dryRun: boolean): string {
  const out = [`${groupTitle(g.group)}:`, ""];
  out.push(`Keep ${plural(g.keep.length, "snapshot")}:`);
  out.push(
    table(
      [...SNAPSHOT_COLUMNS, { title: "Reasons" }],
      g.keep.map((k) => [...snapshotRow(k.snapshot.entry), k.reasons.join("\n")]),
    ),
  );
  if (g.remove.length > 0) {
    out.push(`${dryRun ? "Would remove" : "Remove"} ${plural(g.remove.length, "snapshot")}:`);
    out.push(snapshotTable(g.remove.map((c) => c.entry)));
  }
  return out.join("\n");
}

function forgetText(report: ForgetReport, pruning: boolean): string {
  const groups = report.groups.map((g) => groupText(g, report.dryRun)).join("\n");
  const n = report.removed.length;
  const tail = report.dryRun
    ? `Dry run: ${plural(n, "snapshot")} would be removed; nothing was changed.`
    : n === 0
      ? "No snapshots removed."
      : `Removed ${plural(n, "snapshot")}.${pruning ? "" : " Their data stays until `ferry prune`."}`;
  return `${groups}${groups === "" ? "" : "\n"}${tail}\n`;
}
