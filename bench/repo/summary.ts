/**
 * The end of a run: the table, the restore checks and the targets, as text for the terminal and
 * as the Markdown document written to bench/results/.
 */
import * as os from "node:os";
import type { Tree } from "./generate.ts";
import type { Mutation } from "./mutate.ts";
import { markdownTable, rows, textTable, verdictLines } from "./report.ts";
import type { ToolResult } from "./run-tool.ts";
import { evaluate } from "./targets.ts";

/** How to read the figures. */
const NOTES = [
  "MB = 10^6 bytes. MB/s = bytes of the source tree (as it is in that phase) / wall seconds, for restores too.",
  "CPU s = user + sys of the tool and every child it waited for (restic's and borg's ssh client included), from GNU time.",
  "Peak RSS = the larger of GNU time's maximum RSS (of one process) and the sum over the tool's process tree sampled every 250 ms.",
  "Server CPU s = CPU of the server's processes during the phase (sshd and its sftp-server, borg serve; vsftpd sessions).",
  "Repo MB = du --apparent-size of the tool's directory on the server after the phase; for rclone and lftp it is a plain copy.",
  "Every tool runs alone, in the same phase order, on a fresh directory, against 127.0.0.1. The page cache is not dropped: the tree is read from memory by everyone.",
];

/** The summary in both forms. */
export interface Summary {
  date: string;
  text: string;
  markdown: string;
}

/** Summarizes a run; `loadBefore` is the 1-minute load average when it started. */
export function summarize(
  results: readonly ToolResult[],
  tree: Tree,
  mutation: Mutation,
  loadBefore: number,
): Summary {
  const { plan } = tree;
  const body = rows(results);
  const restores = results
    .filter((r) => r.verified !== undefined)
    .map((r) =>
      r.verified === ""
        ? `${r.tool.name}: restore verified`
        : `${r.tool.name}: restore NOT verified: ${r.verified ?? ""}`,
    );
  const targets = verdictLines(evaluate(results));
  const treeLine = `Tree: ${String(plan.files.length)} files, ${(plan.bytes / 1e6).toFixed(1)} MB (seed ${String(plan.seed)}, scale ${String(plan.scale)}); mutation: ${String(mutation.changed.length)} files changed, ${String(mutation.added.length)} added, ${String(mutation.deleted.length)} deleted.`;
  const machine = `${os.cpus()[0]?.model ?? "?"} × ${String(os.availableParallelism())}, Node ${process.version}, Linux ${os.release()}; load average ${loadBefore.toFixed(1)} at the start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at the end.`;
  const text = [
    textTable(body),
    "",
    treeLine,
    ...restores,
    "",
    "Targets (ferry / peer):",
    ...targets.map((l) => `  ${l}`),
  ].join("\n");
  const date = new Date().toISOString();
  const markdown = [
    `# Repository benchmark, ${date}`,
    "",
    `${machine} Command: \`node bench/repo/main.ts ${process.argv.slice(2).join(" ")}\`.`,
    "",
    treeLine,
    "",
    markdownTable(body),
    "",
    ...restores.map((l) => `- ${l}`),
    "",
    "Targets (ferry / peer):",
    "",
    ...targets.map((l) => `- ${l}`),
    "",
    "Notes:",
    "",
    ...NOTES.map((l) => `- ${l}`),
    "",
  ].join("\n");
  return { date, text, markdown };
}
