/** The repository benchmark's command line (and the BENCH_* variables that stand for flags). */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { PHASES, type Phase } from "./run-tool.ts";
import { TOOLS } from "./tools/index.ts";
import type { Tool } from "./tools/tool.ts";

/** What to run. */
export interface Options {
  scale: number;
  seed: number;
  dir: string;
  tools: Tool[];
  phases: Phase[];
  keep: boolean;
  generateOnly: boolean;
}

/** Usage text. */
export const USAGE = `usage: npm run bench -- [options]      (node bench/repo/main.ts [options])

  --scale <fraction>   shrink file counts and the big files, e.g. 0.01 (env BENCH_SCALE; default 1:
                       20,302 files, about 1.2 GiB)
  --seed <n>           tree generator seed (env BENCH_SEED; default 1)
  --dir <path>         work directory: tree, logs, restores (env BENCH_DIR; default /tmp/ferry-bench)
  --only <names>       tools to run, comma-separated: ${TOOLS.map((t) => t.name).join(", ")};
                       "rclone" and "ferry" stand for all of theirs
  --phases <names>     phases to measure, comma-separated: ${PHASES.join(", ")}
  --keep               keep restores and ferry-local's repository after each tool (server
                       directories go when the servers stop at the end)
  --generate-only      make (or check) the tree and stop
  --help`;

function numberOf(flag: string, text: string, check: (n: number) => boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`${flag}: "${text}" is not allowed`);
  return n;
}

function toolsOf(list: string | undefined): Tool[] {
  if (list === undefined) return [...TOOLS];
  const wanted = list.split(",").map((s) => s.trim());
  for (const name of wanted) {
    if (!TOOLS.some((t) => t.name === name || t.name.startsWith(`${name}-`))) {
      throw new Error(
        `--only: unknown tool "${name}"; known: ${TOOLS.map((t) => t.name).join(", ")}`,
      );
    }
  }
  return TOOLS.filter((t) => wanted.some((w) => t.name === w || t.name.startsWith(`${w}-`)));
}

function phasesOf(list: string | undefined): Phase[] {
  if (list === undefined) return [...PHASES];
  const wanted = list.split(",").map((s) => s.trim());
  for (const name of wanted) {
    if (!(PHASES as readonly string[]).includes(name)) {
      throw new Error(`--phases: unknown phase "${name}"; known: ${PHASES.join(", ")}`);
    }
  }
  const phases = PHASES.filter((p) => wanted.includes(p));
  if (phases.length === 1 && phases[0] === "restore") {
    throw new Error("--phases: restore needs a backup phase before it (initial, for instance)");
  }
  return phases;
}

/** Parses argv and the environment; throws with a message on a bad value. */
export function parseOptions(args: string[]): Options | "help" {
  const { values } = parseArgs({
    args,
    options: {
      scale: { type: "string" },
      seed: { type: "string" },
      dir: { type: "string" },
      only: { type: "string" },
      phases: { type: "string" },
      keep: { type: "boolean", default: false },
      "generate-only": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const env = process.env;
  return {
    scale: numberOf("--scale", values.scale ?? env.BENCH_SCALE ?? "1", (n) => n > 0 && n <= 4),
    seed: numberOf("--seed", values.seed ?? env.BENCH_SEED ?? "1", Number.isInteger),
    dir: resolve(values.dir ?? env.BENCH_DIR ?? "/tmp/ferry-bench"),
    tools: toolsOf(values.only),
    phases: phasesOf(values.phases),
    keep: values.keep,
    generateOnly: values["generate-only"],
  };
}
