// Starting a server process (detached, output into its log file), waiting until it greets,
// and stopping it by PID: SIGTERM to it and its process tree, then SIGKILL. Servers still running
// when the test process exits (or gets SIGINT/SIGTERM/SIGHUP) are killed and their dirs removed.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import * as net from "node:net";
import * as tls from "node:tls";
import { releasePorts, sleep, within } from "./runtime.ts";

export const READY_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------- process tracking & cleanup

interface Live {
  pid: number;
  dirs: string[];
}
const live = new Map<number, Live>();
let cleanupInstalled = false;

/** PIDs of all descendants of `pid` (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = parentOf.get(ppid) ?? [];
      list.push(Number(e));
      parentOf.set(ppid, list);
    } catch {
      // the process went away while we looked
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift();
    if (p === undefined) break;
    for (const c of parentOf.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Kills a server's process group, its leader and every descendant. Synchronous. */
function killTree(pid: number, sig: NodeJS.Signals, extra: readonly number[] = []): number[] {
  const tree = [...descendants(pid), ...extra];
  signal(-pid, sig); // the server was spawned detached, so it leads its own process group
  signal(pid, sig);
  for (const p of tree) signal(p, sig);
  return tree;
}

function cleanupAllSync(): void {
  for (const l of live.values()) {
    killTree(l.pid, "SIGKILL");
    for (const d of l.dirs) rmSync(d, { recursive: true, force: true });
  }
  live.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on("exit", cleanupAllSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    // Only take over a signal nobody else handles; re-raise it after cleaning up.
    if (process.listenerCount(sig) > 0) continue;
    process.once(sig, () => {
      cleanupAllSync();
      process.kill(process.pid, sig);
    });
  }
}

// ---------------------------------------------------------------- spawning

export interface Spawned {
  pid: number;
  /** Resolves when the server's main process has exited. */
  exited: Promise<void>;
  hasExited: () => boolean;
  /** SIGTERM (tree), wait up to 5 s, SIGKILL; removes `dirs`, releases `ports`. Idempotent. */
  stop: () => Promise<void>;
}

export async function spawnServer(opts: {
  cmd: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Removed when the server stops (also on process exit). */
  dirs: readonly string[];
  ports: readonly number[];
}): Promise<Spawned> {
  installCleanup();
  const log = await open(opts.logFile, "a");
  let child;
  let spawned: Promise<number>;
  let done = false;
  let exited: Promise<void>;
  try {
    child = spawn(opts.cmd, opts.args, {
      stdio: ["ignore", log.fd, log.fd],
      env: opts.env ?? process.env,
      detached: true,
    });
    const c = child;
    // listen before any await: 'spawn' / 'error' are emitted on the next tick
    spawned = new Promise<number>((resolve, reject) => {
      c.once("error", reject);
      c.once("spawn", () => {
        if (c.pid === undefined) reject(new Error(`${opts.cmd}: no pid`));
        else resolve(c.pid);
      });
    });
    exited = new Promise<void>((resolve) => {
      c.once("exit", () => {
        done = true;
        resolve();
      });
    });
  } finally {
    await log.close(); // the child has its own copy of the descriptor
  }
  const pid = await spawned;
  child.unref(); // a forgotten server must not keep the test process alive; 'exit' kills it
  const dirs = [...opts.dirs];
  live.set(pid, { pid, dirs });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      child.ref();
      const tree = done ? [] : killTree(pid, "SIGTERM");
      await within(exited, 5_000);
      // Leftover session processes (and the leader, if it ignored SIGTERM) get SIGKILL.
      killTree(pid, "SIGKILL", tree);
      await within(exited, 5_000);
      child.unref();
      live.delete(pid);
      releasePorts(opts.ports);
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    })());
  return { pid, exited, hasExited: () => done, stop };
}

// ---------------------------------------------------------------- readiness

export async function logTail(logFile: string, max = 4000): Promise<string> {
  try {
    const text = await readFile(logFile, "utf8");
    return text.length > max ? "…" + text.slice(-max) : text;
  } catch {
    return "(no log)";
  }
}

/** One attempt: connect, read the greeting. Resolves the greeting, rejects on any error. */
function probe(port: number, proto: "ftp" | "ssh", implicitTls: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock: net.Socket = implicitTls
      ? tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false })
      : net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("no greeting within 3 s"));
    }, 3_000);
    let settled = false;
    const finish = (err: Error | undefined, greeting = ""): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        sock.destroy();
        reject(err);
        return;
      }
      if (proto === "ssh") {
        sock.destroy();
        resolve(greeting);
        return;
      }
      // Say goodbye and wait for the server to hang up, so that it has reaped the session
      // before startServer returns (matters for max_per_ip limits).
      sock.removeAllListeners("data");
      sock.removeAllListeners("error");
      sock.on("error", () => undefined);
      sock.once("close", () => {
        resolve(greeting);
      });
      sock.resume();
      sock.end("QUIT\r\n");
      setTimeout(() => sock.destroy(), 1_000).unref();
    };
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      const lines = buf.split("\r\n");
      if (proto === "ssh" && lines.some((l) => l.startsWith("SSH-"))) finish(undefined, buf);
      if (proto === "ftp" && lines.slice(0, -1).some((l) => /^\d{3} /.test(l))) {
        if (/^220[ -]/.test(buf)) finish(undefined, buf);
        else finish(new Error(`unexpected greeting ${JSON.stringify(buf.trim())}`));
      }
    });
    sock.on("error", (e) => {
      finish(e);
    });
    sock.on("close", () => {
      finish(new Error(`connection closed before greeting (got ${JSON.stringify(buf)})`));
    });
  });
}

/** Waits until the port accepts a connection and the greeting arrives; throws with the log. */
export async function waitForGreeting(opts: {
  kind: string;
  port: number;
  proto: "ftp" | "ssh";
  implicitTls?: boolean;
  server: Spawned;
  logFile: string;
}): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "not tried";
  while (Date.now() < deadline) {
    if (opts.server.hasExited()) {
      last = "the server process exited";
      break;
    }
    try {
      await probe(opts.port, opts.proto, opts.implicitTls ?? false);
      return;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(50);
  }
  await sleep(100); // let the server flush its last log lines
  const tail = await logTail(opts.logFile);
  await opts.server.stop();
  throw new Error(
    `${opts.kind} did not become ready on 127.0.0.1:${opts.port} within ` +
      `${READY_TIMEOUT_MS / 1000} s (${last}).\n--- ${opts.logFile} ---\n${tail}`,
  );
}
