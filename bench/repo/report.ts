/**
 * The results as a text table for the terminal and as Markdown for bench/results/, from one set
 * of rows: per tool and phase, wall seconds, MB/s, CPU, peak RSS, server CPU, repository size.
 */
import type { PhaseResult, ToolResult } from "./run-tool.ts";
import type { Verdict } from "./targets.ts";

const LABEL: Record<PhaseResult["phase"], string> = {
  initial: "initial backup",
  unchanged: "unchanged backup",
  mutated: "after mutation",
  restore: "full restore",
};

const HEADER = [
  "tool",
  "transport",
  "phase",
  "wall s",
  "MB/s",
  "CPU s",
  "peak RSS MiB",
  "server CPU s",
  "repo MB",
  "result",
];

const fixed = (value: number | undefined, digits: number) =>
  value === undefined ? "-" : value.toFixed(digits);

function outcome(result: ToolResult, phase: PhaseResult): string {
  if (phase.error !== undefined) return `failed: ${phase.error}`;
  if (phase.phase !== "restore") return "ok";
  if (result.verified === undefined) return "ok, not verified";
  return result.verified === ""
    ? "ok, restore verified"
    : `restore NOT verified: ${result.verified}`;
}

/** One row per tool and phase. */
export function rows(results: readonly ToolResult[]): string[][] {
  return results.flatMap((result) =>
    result.phases.map((phase) => {
      const m = phase.measured;
      return [
        `${result.tool.name} ${result.version}`,
        result.tool.transport,
        LABEL[phase.phase],
        fixed(m?.seconds, 2),
        m === undefined ? "-" : fixed(phase.bytes / 1e6 / m.seconds, 1),
        fixed(m?.cpuSeconds, 2),
        m === undefined ? "-" : fixed(m.peakRss / 2 ** 20, 0),
        fixed(m?.serverCpuSeconds, 2),
        phase.repoBytes === undefined ? "-" : fixed(phase.repoBytes / 1e6, 1),
        outcome(result, phase),
      ];
    }),
  );
}

/** Rows aligned in columns (text left, numbers right). */
export function textTable(body: readonly string[][]): string {
  const all = [HEADER, ...body];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const numeric = (i: number) => i >= 3 && i < HEADER.length - 1;
  return all
    .map((r) =>
      r
        .map((cell, i) =>
          numeric(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Rows as a Markdown table. */
export function markdownTable(body: readonly string[][]): string {
  const line = (r: readonly string[]) =>
    `| ${r.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(HEADER), line(HEADER.map(() => "---")), ...body.map(line)].join("\n");
}

/** One line per target. */
export function verdictLines(verdicts: readonly Verdict[]): string[] {
  return verdicts.map(({ target, ferry, peer, ratio, verdict, note }) => {
    const op = target.metric === "mbps" ? "≥" : "≤";
    const goal = `${target.what} ${target.ferry} / ${target.peer} ${op} ${String(target.bound)}×`;
    if (ratio === undefined || ferry === undefined || peer === undefined) {
      return `${goal}: ${verdict} (${note ?? "no figure"})`;
    }
    const show = (v: number) =>
      target.metric === "mbps"
        ? `${v.toFixed(1)} MB/s`
        : target.metric === "seconds"
          ? `${v.toFixed(2)} s`
          : target.metric === "repo"
            ? `${(v / 1e6).toFixed(1)} MB`
            : `${(v / 2 ** 20).toFixed(0)} MiB`;
    return `${goal}: ${ratio.toFixed(2)}× (${show(ferry)} vs ${show(peer)}) ${verdict}`;
  });
}
