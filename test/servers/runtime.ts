// Plumbing shared by the server starters: paths, running commands, free ports, temp dirs, and
// checking that a server binary can run. Spawning and stopping servers is in spawn.ts.
import { spawn } from "node:child_process";
import { access, chmod, constants, mkdtemp } from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
export const SERVERS_DIR = path.join(REPO_ROOT, ".servers");
export const INSTALL_HINT = "run `bash test/servers/install.sh` as root";

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `p` or `ms`, whichever comes first, without leaving a timer behind. */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- commands

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never throws for a non-zero exit; a spawn error rejects). */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 30_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => undefined); // the command may not read its input
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs a command and throws (with its output) unless it exits 0. */
export async function mustRun(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const r = await runCommand(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${String(r.code)}: ${(r.stderr || r.stdout).trim()}`,
    );
  }
  return r.stdout;
}

// ---------------------------------------------------------------- ports

const reservedPorts = new Set<number>();

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => {
      resolve(undefined);
    });
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      const addr = srv.address();
      const got = addr !== null && typeof addr === "object" ? addr.port : undefined;
      srv.close(() => {
        resolve(got);
      });
    });
  });
}

/** A port on 127.0.0.1 that was free a moment ago (bind port 0, close), not handed out before. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await tryListen(0);
    if (port !== undefined && !reservedPorts.has(port)) {
      reservedPorts.add(port);
      return port;
    }
  }
  throw new Error("no free port on 127.0.0.1");
}

/** `count` consecutive free ports for passive data connections, below the ephemeral range. */
export async function freePortRange(count: number): Promise<[number, number]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const low = 20_000 + Math.floor(Math.random() * (12_000 - count));
    let ok = true;
    for (let p = low; p < low + count && ok; p++) {
      ok = !reservedPorts.has(p) && (await tryListen(p)) === p;
    }
    if (ok) {
      for (let p = low; p < low + count; p++) reservedPorts.add(p);
      return [low, low + count - 1];
    }
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1`);
}

export function releasePorts(ports: readonly number[]): void {
  for (const p of ports) reservedPorts.delete(p);
}

// ---------------------------------------------------------------- temp dirs

/** A fresh directory under os.tmpdir(), mode 755 so dropped-privilege server processes enter it. */
export async function makeServerDir(kind: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `ferry-${kind}-`));
  await chmod(dir, 0o755);
  return dir;
}

// ---------------------------------------------------------------- availability

/**
 * Why an unpacked/installed server binary cannot run, or undefined: it must exist, be
 * executable, and start without a dynamic-linker error when run with `probeArgs`.
 */
export async function binaryUnavailable(
  file: string,
  probeArgs: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  const shown = path.relative(REPO_ROOT, file).startsWith("..")
    ? file
    : path.relative(REPO_ROOT, file);
  try {
    await access(file, constants.X_OK);
  } catch {
    return `${path.basename(file)} binary not found at ${shown}: ${INSTALL_HINT}`;
  }
  try {
    const r = await runCommand(file, probeArgs, { ...(env ? { env } : {}), timeoutMs: 5_000 });
    const err = /error while loading shared libraries[^\n]*/.exec(r.stderr);
    if (err) return `${shown} cannot run (${err[0]}): ${INSTALL_HINT}`;
  } catch (e) {
    return `${shown} cannot run (${e instanceof Error ? e.message : String(e)}): ${INSTALL_HINT}`;
  }
  return undefined;
}
