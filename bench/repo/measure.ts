/**
 * Runs one command under GNU time and reports wall seconds, CPU seconds (user + sys, the reaped
 * children such as restic's ssh included), peak RSS and the server's CPU in the same span.
 * Node's child_process gives no rusage of children, hence /usr/bin/time.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { Sampler } from "./sampler.ts";

/** A program to run, with what it needs besides the benchmark's own environment. */
export interface Command {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** What one command cost. */
export interface Measured {
  ok: boolean;
  seconds: number;
  /** user + sys of the command and every child it waited for. */
  cpuSeconds: number;
  /** The larger of GNU time's max RSS (one process) and the sampled sum over the process tree. */
  peakRss: number;
  /** CPU the server's processes used meanwhile, when a server was given. */
  serverCpuSeconds?: number;
  /** The first telling line of stderr, when the command failed. */
  error?: string;
}

export const TIME = "/usr/bin/time";

/** The line of stderr that says what went wrong: the first naming an error, else the first. */
export function firstError(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("Command exited with non-zero status"));
  const telling = lines.find((l) => /error|fatal|fail|denied|unknown|cannot|invalid/i.test(l));
  return (telling ?? lines[0] ?? "no output").slice(0, 200);
}

/** Runs `command`, its output appended to `logFile`, and measures it. */
export async function measure(
  command: Command,
  opts: { logFile: string; serverPid?: number },
): Promise<Measured> {
  const timeFile = `${opts.logFile}.time`;
  const log = createWriteStream(opts.logFile, { flags: "a" });
  log.write(`$ ${command.cmd} ${command.args.map((a) => JSON.stringify(a)).join(" ")}\n`);
  const sampler = new Sampler(opts.serverPid);
  const start = performance.now();
  const child = spawn(TIME, ["-f", "%M %e %U %S", "-o", timeFile, command.cmd, ...command.args], {
    cwd: command.cwd,
    env: { ...process.env, ...command.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid !== undefined) sampler.follow(child.pid);
  let stderr = "";
  child.stdout.pipe(log, { end: false });
  child.stderr.on("data", (chunk: Buffer) => {
    log.write(chunk);
    if (stderr.length < 65_536) stderr += chunk.toString("utf8");
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  const seconds = (performance.now() - start) / 1000;
  const { peakRss: treePeak, serverCpuSeconds } = await sampler.stop();
  await new Promise((resolve) => log.end(resolve));
  const timeLines = (await readFile(timeFile, "utf8").catch(() => "")).trim().split("\n");
  const [maxRssKiB, , user, sys] = (timeLines.at(-1) ?? "").split(" ").map(Number);
  const result: Measured = {
    ok: code === 0,
    seconds,
    cpuSeconds: (user ?? 0) + (sys ?? 0),
    peakRss: Math.max((maxRssKiB ?? 0) * 1024, treePeak),
    ...(serverCpuSeconds === undefined ? {} : { serverCpuSeconds }),
  };
  if (code !== 0) result.error = firstError(stderr || timeLines.join("\n"));
  return result;
}
