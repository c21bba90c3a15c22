/**
 * Repository benchmark (not a test): ferry against restic, borg, rclone and lftp on the same
 * generated tree and the same loopback servers of the test harness, through initial, unchanged,
 * after-mutation backups and a full restore. Prints a table and the targets, writes Markdown to
 * bench/results/repo-<date>.md. See docs/benchmarks.md.
 *
 *   npm run bench -- [--scale 0.01] [--only restic,borg] [--phases initial,restore]
 */
import { mkdir, writeFile } from "node:fs/promises";
import * as os from "node:os";
import { join } from "node:path";
import { ensureTree } from "./generate.ts";
import { ensureInstalled } from "./install.ts";
import { TIME } from "./measure.ts";
import { planMutation } from "./mutate.ts";
import { parseOptions, USAGE, type Options } from "./options.ts";
import { runTool, type ToolResult } from "./run-tool.ts";
import { Servers } from "./servers.ts";
import { summarize } from "./summary.ts";
import { hashTree, type TreeHashes } from "./verify.ts";

const say = (line: string) => {
  console.log(line);
};

async function run(opts: Options): Promise<number> {
  say(
    `ferry repository benchmark: scale ${String(opts.scale)}, seed ${String(opts.seed)}, ${os.cpus()[0]?.model ?? "?"} × ${String(os.availableParallelism())}, Node ${process.version}`,
  );
  const load = os.loadavg()[0] ?? 0;
  await mkdir(opts.dir, { recursive: true });
  const installLog = join(opts.dir, "install.log");
  const noTime = await ensureInstalled([{ command: TIME, pkg: "time" }], installLog, say);
  if (noTime.size > 0) throw new Error([...noTime.values()].join("; "));
  const tree = await ensureTree(opts.dir, opts.seed, opts.scale, say);
  if (opts.generateOnly) return 0;

  const missing = await ensureInstalled(
    opts.tools.flatMap((t) => t.needs),
    installLog,
    say,
  );
  const mutation = planMutation(tree.plan);
  const hashes = new Map<boolean, Promise<TreeHashes>>();
  const servers = new Servers();
  const results: ToolResult[] = [];
  try {
    for (const tool of opts.tools) {
      say(`${tool.name}: ${tool.transport}`);
      results.push(
        await runTool(tool, {
          tree,
          mutation,
          servers,
          phases: opts.phases,
          keep: opts.keep,
          expected: (mutated) => {
            let h = hashes.get(mutated);
            if (h === undefined) hashes.set(mutated, (h = hashTree(tree.root)));
            return h;
          },
          unavailable: (t) =>
            t.needs.map((n) => missing.get(n.command)).find((r) => r !== undefined),
          say,
        }),
      );
    }
  } finally {
    await servers.stopAll();
  }

  const summary = summarize(results, tree, mutation, load);
  say("");
  say(summary.text);
  const resultsDir = join(import.meta.dirname, "..", "results");
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `repo-${summary.date.replace(/[:.]/g, "-")}.md`);
  await writeFile(file, summary.markdown);
  say(`\nresults written to ${file}; tool logs in ${join(opts.dir, "run")}`);
  const failed = results.some(
    (r) => r.phases.some((p) => p.error !== undefined) || (r.verified ?? "") !== "",
  );
  return failed ? 1 : 0;
}

try {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === "help") {
    say(USAGE);
  } else {
    process.exitCode = await run(opts);
  }
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
}
