/**
 * Runs one tool through the phases, in the same order for every tool: init (not measured),
 * initial backup, unchanged backup, mutation + backup, full restore into an empty directory,
 * then checks the restore, undoes the mutation and removes the tool's repository. A failing step
 * is recorded with its first error line and the next steps still run.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "../../test/servers/runtime.ts";
import { markMutated, type Tree } from "./generate.ts";
import { firstError, measure, type Measured } from "./measure.ts";
import { applyMutation, revertMutation, type Mutation } from "./mutate.ts";
import type { Servers } from "./servers.ts";
import type { Session, Tool } from "./tools/tool.ts";
import { compareTrees, hashTree, restoredRoot, type TreeHashes } from "./verify.ts";

/** The measured phases, in the order they run. */
export const PHASES = ["initial", "unchanged", "mutated", "restore"] as const;
/** One measured phase. */
export type Phase = (typeof PHASES)[number];

/** One phase's figures. */
export interface PhaseResult {
  phase: Phase;
  /** Source bytes the phase covers (the tree as it is, or as restored). */
  bytes: number;
  measured?: Measured;
  /** Size of the repository (or copy) on the server after the phase, for backups. */
  repoBytes?: number;
  error?: string;
}

/** Everything measured for one tool. */
export interface ToolResult {
  tool: Tool;
  version: string;
  phases: PhaseResult[];
  /** "" when the restore matched the source, else what differs; undefined when not checked. */
  verified?: string;
}

/** What every tool run shares. */
export interface RunContext {
  tree: Tree;
  mutation: Mutation;
  servers: Servers;
  phases: readonly Phase[];
  /** Keep repositories and restores after the run, for inspection. */
  keep: boolean;
  /** Hashes of the source as it is now (original or mutated), computed once per state. */
  expected: (mutated: boolean) => Promise<TreeHashes>;
  /** Tools that cannot run, with the reason (not installed). */
  unavailable: (tool: Tool) => string | undefined;
  say: (line: string) => void;
}

async function du(dir: string): Promise<number | undefined> {
  const r = await runCommand("du", ["-s", "-B1", "--apparent-size", dir]);
  return r.code === 0 ? Number(r.stdout.split("\t")[0]) : undefined;
}

async function version(tool: Tool): Promise<string> {
  const r = await runCommand(tool.version.cmd, tool.version.args).catch(() => undefined);
  return /\d+\.\d+(\.\d+)?/.exec(r?.stdout ?? "")?.[0] ?? "?";
}

const message = (error: unknown) =>
  firstError(error instanceof Error ? error.message : String(error));

/** Runs `tool` through the selected phases. */
export async function runTool(tool: Tool, rc: RunContext): Promise<ToolResult> {
  const { tree, mutation, phases } = rc;
  const result: ToolResult = { tool, version: await version(tool), phases: [] };
  const fail = (error: string) => {
    for (const phase of phases) result.phases.push({ phase, bytes: tree.plan.bytes, error });
    return result;
  };
  const reason = rc.unavailable(tool);
  if (reason !== undefined) return fail(reason);

  const home = join(tree.dir, "run", tool.name);
  await rm(home, { recursive: true, force: true });
  await mkdir(join(home, "logs"), { recursive: true });
  const log = (what: string) => join(home, "logs", `${what}.log`);
  let serverPid: number | undefined;
  let session: Session;
  try {
    const server = tool.server === undefined ? undefined : await rc.servers.get(tool.server);
    serverPid = server?.pid;
    session = await tool.setup({ source: tree.root, home, server });
    await rm(session.repoDir, { recursive: true, force: true });
  } catch (error) {
    return fail(`setup: ${message(error)}`);
  }
  const run = (command: Session["init"][number], what: string) =>
    measure(command, { logFile: log(what), ...(serverPid === undefined ? {} : { serverPid }) });

  // changed inside runPhase: an object, so that the checks after it are not narrowed away
  const state = { mutated: false, backups: 0 };
  const runPhase = async (entry: PhaseResult): Promise<void> => {
    if (entry.phase === "restore") {
      const target = join(home, "restore");
      await mkdir(target, { recursive: true });
      entry.measured = await run(session.restore(target), entry.phase);
      if (!entry.measured.ok) {
        entry.error = entry.measured.error ?? "failed";
        return;
      }
      const expected = await rc.expected(state.mutated);
      result.verified = compareTrees(
        expected,
        await hashTree(await restoredRoot(target, tree.root)),
      );
      return;
    }
    if (entry.phase === "mutated") {
      await markMutated(tree, true);
      state.mutated = true;
      await applyMutation(tree.root, tree.plan, mutation);
      entry.bytes = mutation.bytes;
    }
    entry.measured = await run(session.backup(++state.backups), entry.phase);
    if (!entry.measured.ok) entry.error = entry.measured.error ?? "failed";
    const size = await du(session.repoDir);
    if (size !== undefined) entry.repoBytes = size;
  };

  try {
    for (const [i, command] of session.init.entries()) {
      const m = await run(command, `init-${String(i)}`);
      if (!m.ok) return fail(`init: ${m.error ?? "failed"}`);
    }
    for (const phase of phases) {
      const entry: PhaseResult = { phase, bytes: state.mutated ? mutation.bytes : tree.plan.bytes };
      result.phases.push(entry);
      await runPhase(entry).catch((error: unknown) => (entry.error = message(error)));
      const seconds = entry.measured?.seconds.toFixed(1) ?? "-";
      rc.say(
        `  ${tool.name} ${phase}: ${seconds} s${entry.error === undefined ? "" : `, failed: ${entry.error}`}`,
      );
    }
  } finally {
    if (state.mutated) {
      await revertMutation(tree.root, tree.plan, mutation);
      await markMutated(tree, false);
    }
    if (!rc.keep) {
      await rm(session.repoDir, { recursive: true, force: true });
      await rm(join(home, "restore"), { recursive: true, force: true });
    }
  }
  return result;
}
