/** `ferry find`: which snapshots hold files matching a pattern. */
import type { Command } from "commander";
import { compilePattern } from "../backup/excludes.ts";
import type { Repository } from "../repo/repository.ts";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { nodeJson } from "./cmd-ls.ts";
import { formatTime, printJson } from "./format.ts";
import { collect } from "./parsers.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";
import {
  addSnapshotFilterFlags,
  filterSnapshots,
  type SnapshotFilterFlags,
} from "./snapshot-filter.ts";
import { childPath, type PathNode } from "./snapshot-tree.ts";

interface FindFlags extends RepoFlags, SnapshotFilterFlags {
  snapshot?: string[];
}

/** Registers `ferry find`. */
export function registerFind(program: Command): void {
  const command = program
    .command("find")
    .summary("find files by name in snapshots")
    .description(
      "Find files and directories whose path matches any of the patterns, in every snapshot or in those given with --snapshot.",
    )
    .argument("<pattern...>", "glob patterns, as for backup --exclude")
    .option(
      "--snapshot <id>",
      'search only this snapshot (id prefix or "latest"; repeatable)',
      collect,
    )
    .option("--json", "print the matches as a JSON array");
  addSnapshotFilterFlags(command, "search only snapshots");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
Patterns: one without / matches a name at any depth (*.conf); one starting with / matches an
absolute path and everything under it; any other matches the end of a path (www/*.php). Quote
them so the shell does not expand them.

${PASSWORD_HELP}

Examples:
  ferry find "*.sql"
  ferry find nginx.conf --host web1
  ferry find "/home/*/notes.txt" --snapshot latest --json`,
  );
  command.action(async (patterns: string[], flags: FindFlags) => {
    const matchers = patterns.map(compilePattern);
    const matches = (path: string): boolean => matchers.some((m) => m(path));
    const results = await withRepository(flags, async (repo) => {
      // Snapshots before the index: one saved meanwhile has its index in place already.
      const all = await repo.listSnapshots();
      await repo.loadIndex();
      const chosen =
        flags.snapshot === undefined
          ? filterSnapshots(all, flags)
          : await Promise.all(flags.snapshot.map((ref) => repo.resolveSnapshot(ref, all)));
      const search = new Search(repo, matches);
      const found: { entry: SnapshotEntry; hits: PathNode[] }[] = [];
      for (const entry of chosen) {
        found.push({ entry, hits: await search.tree(entry.snapshot.tree, "/") });
      }
      return found;
    });
    if (flags.json === true) {
      printJson(
        results.flatMap(({ entry, hits }) =>
          hits.map((hit) => ({ snapshot: entry.id, time: entry.snapshot.time, ...nodeJson(hit) })),
        ),
      );
      return;
    }
    for (const { entry, hits } of results) {
      for (const hit of hits) {
        process.stdout.write(
          `${entry.id.slice(0, 8)}  ${formatTime(entry.snapshot.time)}  ${hit.path}${hit.node.type === "dir" ? "/" : ""}\n`,
        );
      }
    }
    const total = results.reduce((sum, r) => sum + r.hits.length, 0);
    process.stderr.write(
      `${total} match${total === 1 ? "" : "es"} in ${results.filter((r) => r.hits.length > 0).length} of ${results.length} snapshot${results.length === 1 ? "" : "s"}\n`,
    );
  });
}

/**
 * Searches trees, remembering each (tree, path) answer: snapshots share most of their trees, so
 * each distinct directory is read and matched once.
 */
class Search {
  readonly #repo: Repository;
  readonly #matches: (path: string) => boolean;
  readonly #memo = new Map<string, PathNode[]>();

  constructor(repo: Repository, matches: (path: string) => boolean) {
    this.#repo = repo;
    this.#matches = matches;
  }

  async tree(tree: string | undefined, dir: string): Promise<PathNode[]> {
    if (tree === undefined) return [];
    const key = `${tree}\0${dir}`;
    const known = this.#memo.get(key);
    if (known !== undefined) return known;
    const out: PathNode[] = [];
    for (const node of await this.#repo.loadTree(tree)) {
      const path = childPath(dir, node.name);
      if (this.#matches(path)) out.push({ path, node });
      if (node.type === "dir") out.push(...(await this.tree(node.subtree, path)));
    }
    this.#memo.set(key, out);
    return out;
  }
}
