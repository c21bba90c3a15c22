/**
 * The targets as data: each compares one ferry destination with one peer on one figure,
 * as the ratio ferry / peer against a bound. A target is n/a when either side has no figure.
 */
import type { Phase, PhaseResult, ToolResult } from "./run-tool.ts";

type Metric = "mbps" | "seconds" | "repo" | "rss";

/** One target. */
export interface Target {
  what: string;
  ferry: string;
  peer: string;
  /** The phase measured; repository size and RSS look at all phases. */
  phase?: Phase;
  metric: Metric;
  /** Throughput: ratio ≥ bound passes; the others: ratio ≤ bound. */
  bound: number;
}

/** The targets from the issue. */
export const TARGETS: readonly Target[] = [
  {
    what: "initial backup MB/s",
    ferry: "ferry-sftp",
    peer: "restic",
    phase: "initial",
    metric: "mbps",
    bound: 2.5,
  },
  {
    what: "initial backup MB/s",
    ferry: "ferry-sftp",
    peer: "borg",
    phase: "initial",
    metric: "mbps",
    bound: 2.5,
  },
  {
    what: "initial backup MB/s",
    ferry: "ferry-ftp",
    peer: "lftp",
    phase: "initial",
    metric: "mbps",
    bound: 2.5,
  },
  {
    what: "initial backup MB/s",
    ferry: "ferry-ftps",
    peer: "rclone-ftps",
    phase: "initial",
    metric: "mbps",
    bound: 8,
  },
  {
    what: "unchanged backup wall",
    ferry: "ferry-sftp",
    peer: "restic",
    phase: "unchanged",
    metric: "seconds",
    bound: 0.5,
  },
  {
    what: "after-mutation backup wall",
    ferry: "ferry-sftp",
    peer: "restic",
    phase: "mutated",
    metric: "seconds",
    bound: 0.6,
  },
  {
    what: "full restore MB/s",
    ferry: "ferry-sftp",
    peer: "restic",
    phase: "restore",
    metric: "mbps",
    bound: 2,
  },
  { what: "repository size", ferry: "ferry-sftp", peer: "restic", metric: "repo", bound: 1 },
  { what: "peak RSS", ferry: "ferry-sftp", peer: "restic", metric: "rss", bound: 1 },
];

/** How a target came out. */
export interface Verdict {
  target: Target;
  ferry?: number;
  peer?: number;
  ratio?: number;
  verdict: "PASS" | "MISS" | "n/a";
  note?: string;
}

const good = (p: PhaseResult) => p.error === undefined && p.measured?.ok === true;

/** The figure of `metric` for a tool, or why there is none. */
function figure(result: ToolResult | undefined, target: Target): number | string {
  if (result === undefined) return "not run";
  const phases = result.phases.filter(good);
  if (target.metric === "repo") {
    const last = phases.filter((p) => p.repoBytes !== undefined).at(-1);
    return last?.repoBytes ?? "no backup";
  }
  if (target.metric === "rss") {
    if (phases.length === 0) return "no phase ran";
    return Math.max(...phases.map((p) => p.measured?.peakRss ?? 0));
  }
  const phase = phases.find((p) => p.phase === target.phase);
  if (phase?.measured === undefined) return `no ${target.phase ?? "phase"} figure`;
  if (target.phase === "restore" && result.verified !== "") return "restore not verified";
  const seconds = phase.measured.seconds;
  return target.metric === "seconds" ? seconds : phase.bytes / 1e6 / seconds;
}

/** Every target against the results. */
export function evaluate(results: readonly ToolResult[]): Verdict[] {
  const byName = new Map(results.map((r) => [r.tool.name, r]));
  return TARGETS.map((target) => {
    const ferry = figure(byName.get(target.ferry), target);
    const peer = figure(byName.get(target.peer), target);
    if (typeof ferry === "string" || typeof peer === "string" || peer === 0) {
      const why = [
        typeof ferry === "string" ? `${target.ferry}: ${ferry}` : "",
        typeof peer === "string" ? `${target.peer}: ${peer}` : "",
      ].filter((s) => s !== "");
      return { target, verdict: "n/a", note: why.join("; ") };
    }
    const ratio = ferry / peer;
    const pass = target.metric === "mbps" ? ratio >= target.bound : ratio <= target.bound;
    return { target, ferry, peer, ratio, verdict: pass ? "PASS" : "MISS" };
  });
}
