/**
 * The process table from /proc: parent, CPU used and CPU of reaped children for each process,
 * and a process's RSS. Synchronous reads: a scan takes a few milliseconds that way, against tens
 * of milliseconds of CPU with promises, which the measured tool would feel on two cores.
 */
import { readdirSync, readFileSync } from "node:fs";

const PAGE = 4096;
/** USER_HZ: /proc gives CPU times in 1/100 s on Linux. */
export const TICKS_PER_SECOND = 100;

/** One process as /proc/PID/stat describes it. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime: the children it has waited for, in ticks. */
  reaped: number;
}

function read(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return ""; // the process is gone
  }
}

/** Every process alive now. */
export function processTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = read(`/proc/${entry}/stat`);
    if (stat === "") continue;
    // after "pid (comm) ": state ppid … utime(11) stime(12) cutime(13) cstime(14)
    const f = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    const at = (i: number) => f[i] ?? 0;
    const pid = Number(entry);
    table.set(pid, { pid, ppid: at(1), own: at(11) + at(12), reaped: at(13) + at(14) });
  }
  return table;
}

/** `root` and its descendants in `table`. */
export function treeOf(table: ReadonlyMap<number, ProcInfo>, root: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of table.values()) {
    const siblings = children.get(p.ppid);
    if (siblings === undefined) children.set(p.ppid, [p.pid]);
    else siblings.push(p.pid);
  }
  const tree = table.has(root) ? [root] : [];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] ?? -1) ?? []));
  return tree;
}

/** Resident set size of a process, 0 when it is gone. */
export function rssBytes(pid: number): number {
  return Number(read(`/proc/${String(pid)}/statm`).split(" ")[1] ?? 0) * PAGE;
}
