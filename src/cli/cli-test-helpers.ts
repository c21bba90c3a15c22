/** Running the CLI as a child process in tests, against local destinations in a temp dir. */
import { execFile, type ExecFileOptions } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MAIN = join(import.meta.dirname, "main.ts");

/** What a run printed and how it ended. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A scratch directory with a cache of its own, and a way to run ferry in it. */
export interface Sandbox {
  dir: string;
  /** Environment every run gets: FERRY_CACHE here, FERRY_PASSWORD, no FERRY_DESTINATION. */
  env: Record<string, string>;
  ferry(args: readonly string[], options?: RunOptions): Promise<Run>;
  remove(): Promise<void>;
}

/** Per-run additions. */
export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Bytes for stdin (else stdin is empty). */
  input?: string | Buffer;
  uid?: number;
  gid?: number;
}

/** The password every sandbox repository is created with. */
export const PASSWORD = "correct-horse-7731";

/** A new sandbox; remove it in `after`. */
export async function sandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-cli-"));
  const env: Record<string, string> = {
    FERRY_CACHE: join(dir, "cache"),
    FERRY_PASSWORD: PASSWORD,
  };
  return {
    dir,
    env,
    ferry: (args, options = {}) => runFerry(args, { ...env, ...options.env }, options),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Runs `node src/cli/main.ts args…` with `env` on top of this process's environment. */
export function runFerry(
  args: readonly string[],
  env: Record<string, string | undefined>,
  options: RunOptions = {},
): Promise<Run> {
  // The caller's own FERRY_DESTINATION and FERRY_PASSWORD must not leak into a test.
  const merged = Object.fromEntries(
    Object.entries<string | undefined>({
      ...process.env,
      FERRY_DESTINATION: undefined,
      FERRY_PASSWORD: undefined,
      ...env,
    }).filter(([, value]) => value !== undefined),
  );
  const execOptions: ExecFileOptions = {
    env: merged,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  };
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN, ...args],
      execOptions,
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end(options.input ?? "");
  });
}
