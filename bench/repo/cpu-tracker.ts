/**
 * CPU used by a server's process tree over a span. A process's CPU moves into its parent's
 * cutime when the parent reaps it, so the master process's counters hold every session that was
 * reaped; but sshd's session process exits without reaping its sftp-server child, whose CPU
 * would be lost. Sampling the tree finds such orphans: a process that vanished and whose nearest
 * live ancestor's reaped counter did not grow by its CPU is counted from its last sample.
 */
import { TICKS_PER_SECOND, treeOf, type ProcInfo } from "./proc.ts";

const total = (p: ProcInfo) => p.own + p.reaped;

/** Follows one process tree from sample to sample. */
export class CpuTracker {
  private readonly root: number;
  private readonly start: number;
  private last: Map<number, ProcInfo>;
  private lost = 0;

  /** Starts following the tree of `root` from the process table `table`. */
  constructor(root: number, table: ReadonlyMap<number, ProcInfo>) {
    this.root = root;
    this.last = this.treeIn(table);
    this.start = this.sum();
  }

  private treeIn(table: ReadonlyMap<number, ProcInfo>): Map<number, ProcInfo> {
    return new Map(
      treeOf(table, this.root).flatMap((pid) => {
        const p = table.get(pid);
        return p === undefined ? [] : [[pid, p] as const];
      }),
    );
  }

  private sum(): number {
    let ticks = this.lost;
    for (const p of this.last.values()) ticks += total(p);
    return ticks;
  }

  /** Takes a new sample of the process table. */
  update(table: ReadonlyMap<number, ProcInfo>): void {
    const now = this.treeIn(table);
    const budget = new Map<number, number>();
    for (const [pid, p] of now) budget.set(pid, p.reaped - (this.last.get(pid)?.reaped ?? 0));
    for (const [pid, gone] of this.last) {
      if (now.has(pid)) continue;
      let ancestor = gone.ppid;
      while (!now.has(ancestor) && this.last.has(ancestor)) {
        ancestor = this.last.get(ancestor)?.ppid ?? -1;
      }
      const left = budget.get(ancestor);
      if (left !== undefined && left >= total(gone)) budget.set(ancestor, left - total(gone));
      else this.lost += total(gone);
    }
    this.last = now;
  }

  /** CPU seconds since the tracker started, as of the last update. */
  seconds(): number {
    return (this.sum() - this.start) / TICKS_PER_SECOND;
  }
}
