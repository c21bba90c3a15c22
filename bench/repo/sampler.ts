/**
 * Samples the process table every 250 ms while a tool runs: the peak of the tool's summed RSS
 * (the tool and its ssh client together), and the server's CPU through a CpuTracker.
 */
import { CpuTracker } from "./cpu-tracker.ts";
import { processTable, rssBytes, treeOf } from "./proc.ts";

const EVERY_MS = 250;
/** Time for a server to reap the sessions of a client that has just exited. */
const SETTLE_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the samples showed. */
export interface Sampled {
  /** Peak of the summed RSS of the tool's descendants. */
  peakRss: number;
  serverCpuSeconds?: number;
}

/** One sampling run: created before the tool starts (the server's baseline), stopped after. */
export class Sampler {
  private readonly tracker: CpuTracker | undefined;
  private peak = 0;
  private readonly state = { running: false };
  private loop: Promise<void> = Promise.resolve();
  private tool = -1;

  /** Takes the baseline of the server's tree, when there is a server. */
  constructor(serverPid: number | undefined) {
    this.tracker = serverPid === undefined ? undefined : new CpuTracker(serverPid, processTable());
  }

  private sample(): void {
    const table = processTable();
    const rss = treeOf(table, this.tool)
      .slice(1)
      .reduce((sum, pid) => sum + rssBytes(pid), 0);
    this.peak = Math.max(this.peak, rss);
    this.tracker?.update(table);
  }

  /** Starts sampling; `toolPid` is left out of the RSS sum (it is GNU time itself). */
  follow(toolPid: number): void {
    this.tool = toolPid;
    this.state.running = true;
    this.loop = (async () => {
      while (this.state.running) {
        this.sample();
        await sleep(EVERY_MS);
      }
    })();
  }

  /** Stops once the tool has exited: a last sample now and one after the server settled. */
  async stop(): Promise<Sampled> {
    this.state.running = false;
    await this.loop;
    if (this.tracker === undefined) return { peakRss: this.peak };
    this.tracker.update(processTable());
    await sleep(SETTLE_MS);
    this.tracker.update(processTable());
    return { peakRss: this.peak, serverCpuSeconds: this.tracker.seconds() };
  }
}
