/** `ferry diff`: what changed between two snapshots. */
import type { Command } from "commander";
import type { Repository } from "../repo/repository.ts";
import { compareNames, type TreeNode } from "../repo/tree.ts";
import { formatCount, formatSize, plural, printJson } from "./format.ts";
import { snapshotAndPath } from "./parsers.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";
import { childPath, lookup, treeOf, walk } from "./snapshot-tree.ts";

/** `+` added, `-` removed, `M` content changed, `T` type changed, `U` metadata only. */
type Change = "+" | "-" | "M" | "T" | "U";

interface DiffEntry {
  change: Change;
  path: string;
  type: TreeNode["type"];
}

interface Totals {
  added: Record<"files" | "dirs" | "others", number>;
  removed: Record<"files" | "dirs" | "others", number>;
  modified: number;
  typeChanged: number;
  metadataChanged: number;
  bytesAdded: number;
  bytesRemoved: number;
}

/** Registers `ferry diff`. */
export function registerDiff(program: Command): void {
  const command = program
    .command("diff")
    .summary("show what changed between two snapshots")
    .description(
      "Show what changed from snapshot A to snapshot B: added (+), removed (-) and modified (M) files and directories, type changes (T) and metadata-only changes (U: mode, owner, times), with totals.",
    )
    .argument("<a>", 'the older snapshot: id prefix or "latest", optionally :/path')
    .argument("<b>", "the newer snapshot, optionally :/path")
    .option("--no-metadata", "leave out metadata-only changes (U)")
    .option("--json", "print the changes and totals as JSON");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
Sizes in the totals are file sizes, before deduplication: what a restore would write.

${PASSWORD_HELP}

Examples:
  ferry diff 1a2b3c4d latest
  ferry diff 1a2b3c4d:/srv/www 5e6f7a8b:/srv/www
  ferry diff 1a2b 5e6f --no-metadata --json`,
  );
  command.action(async (a: string, b: string, flags: RepoFlags & { metadata: boolean }) => {
    const json = flags.json === true;
    const totals: Totals = {
      added: { files: 0, dirs: 0, others: 0 },
      removed: { files: 0, dirs: 0, others: 0 },
      modified: 0,
      typeChanged: 0,
      metadataChanged: 0,
      bytesAdded: 0,
      bytesRemoved: 0,
    };
    const changes: DiffEntry[] = [];
    const emit = (entry: DiffEntry): void => {
      if (json) changes.push(entry);
      else
        process.stdout.write(`${entry.change}  ${entry.path}${entry.type === "dir" ? "/" : ""}\n`);
    };
    const ids = await withRepository(flags, async (repo) => {
      // Snapshots before the index: one saved meanwhile has its index in place already.
      const all = await repo.listSnapshots();
      await repo.loadIndex();
      const left = snapshotAndPath(a);
      const right = snapshotAndPath(b);
      const [from, to] = [
        await repo.resolveSnapshot(left.ref, all),
        await repo.resolveSnapshot(right.ref, all),
      ];
      const fromRoot = await lookup(repo, from.snapshot, left.path ?? "/");
      const toRoot = await lookup(repo, to.snapshot, right.path ?? "/");
      const differ = new Differ(repo, totals, emit, flags.metadata);
      const rootA = fromRoot.node;
      const rootB = toRoot.node;
      if (
        (rootA === undefined || rootA.type === "dir") &&
        (rootB === undefined || rootB.type === "dir")
      ) {
        await differ.trees(treeOf(from.snapshot, rootA), treeOf(to.snapshot, rootB), toRoot.path);
      } else {
        await differ.pair(rootA, rootB, toRoot.path);
      }
      return { from: from.id, to: to.id };
    });
    if (json) {
      printJson({ from: ids.from, to: ids.to, changes, totals });
      return;
    }
    const parts = (r: Totals["added"]): string =>
      `${plural(r.files, "file")}, ${plural(r.dirs, "dir")}, ${plural(r.others, "other")}`;
    process.stdout.write(
      [
        "",
        `Added:     ${parts(totals.added)}, ${formatSize(totals.bytesAdded)}`,
        `Removed:   ${parts(totals.removed)}, ${formatSize(totals.bytesRemoved)}`,
        `Modified:  ${plural(totals.modified, "file")}${totals.typeChanged > 0 ? `, ${plural(totals.typeChanged, "type change")}` : ""}${flags.metadata ? `, ${formatCount(totals.metadataChanged)} metadata only` : ""}`,
        "",
      ].join("\n"),
    );
  });
}

function kind(node: TreeNode): "files" | "dirs" | "others" {
  return node.type === "file" ? "files" : node.type === "dir" ? "dirs" : "others";
}

function sameContent(a: TreeNode, b: TreeNode): boolean {
  if (a.type === "symlink") return a.target === b.target;
  if (a.type === "file")
    return a.size === b.size && (a.content ?? []).join() === (b.content ?? []).join();
  if (a.type === "dev" || a.type === "chardev") return a.rdev === b.rdev;
  return true;
}

function sameMetadata(a: TreeNode, b: TreeNode): boolean {
  // A directory's mtime moves whenever an entry comes or goes, which the entries already show.
  const sameTime = a.type === "dir" || a.mtime === b.mtime;
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && sameTime;
}

/** Walks two trees side by side; identical subtrees (same id) are skipped unread. */
class Differ {
  readonly #repo: Repository;
  readonly #totals: Totals;
  readonly #emit: (entry: DiffEntry) => void;
  readonly #metadata: boolean;

  constructor(
    repo: Repository,
    totals: Totals,
    emit: (entry: DiffEntry) => void,
    metadata: boolean,
  ) {
    this.#repo = repo;
    this.#totals = totals;
    this.#emit = emit;
    this.#metadata = metadata;
  }

  async trees(a: string | undefined, b: string | undefined, dir: string): Promise<void> {
    if (a === b) return;
    const left = a === undefined ? [] : await this.#repo.loadTree(a);
    const right = b === undefined ? [] : await this.#repo.loadTree(b);
    let i = 0;
    let j = 0;
    while (i < left.length || j < right.length) {
      const x = left[i];
      const y = right[j];
      const order = x === undefined ? 1 : y === undefined ? -1 : compareNames(x.name, y.name);
      if (order < 0 && x !== undefined) {
        await this.pair(x, undefined, childPath(dir, x.name));
        i++;
      } else if (order > 0 && y !== undefined) {
        await this.pair(undefined, y, childPath(dir, y.name));
        j++;
      } else {
        await this.pair(x, y, childPath(dir, (y ?? x)?.name ?? ""));
        i++;
        j++;
      }
    }
  }

  /** Compares one path's node in A and in B (either may be absent). */
  async pair(a: TreeNode | undefined, b: TreeNode | undefined, path: string): Promise<void> {
    if (a !== undefined && b !== undefined && a.type === b.type) {
      if (!sameContent(a, b)) {
        if (a.type === "file") this.#totals.modified++;
        this.#emit({ change: "M", path, type: b.type });
      } else if (this.#metadata && !sameMetadata(a, b)) {
        this.#totals.metadataChanged++;
        this.#emit({ change: "U", path, type: b.type });
      }
      if (a.type === "dir") await this.trees(a.subtree, b.subtree, path);
      return;
    }
    if (a !== undefined && b !== undefined) {
      this.#totals.typeChanged++;
      this.#emit({ change: "T", path, type: b.type });
      await this.#all("-", a, path, true);
      await this.#all("+", b, path, true);
      return;
    }
    if (a !== undefined) await this.#all("-", a, path, false);
    if (b !== undefined) await this.#all("+", b, path, false);
  }

  /** Reports a node and everything below it as added or removed. */
  async #all(change: "+" | "-", node: TreeNode, path: string, below: boolean): Promise<void> {
    const count = (n: TreeNode): void => {
      const side = change === "+" ? this.#totals.added : this.#totals.removed;
      side[kind(n)]++;
      if (n.type === "file") {
        if (change === "+") this.#totals.bytesAdded += n.size;
        else this.#totals.bytesRemoved += n.size;
      }
    };
    count(node);
    if (!below) this.#emit({ change, path, type: node.type });
    if (node.type !== "dir") return;
    for await (const entry of walk(this.#repo, node.subtree, path)) {
      count(entry.node);
      this.#emit({ change, path: entry.path, type: entry.node.type });
    }
  }
}
