/** `ferry ls`: list what a snapshot holds at a path. */
import type { Command } from "commander";
import { formatMode, formatTime, nsToDate, nsToIso, printJson } from "./format.ts";
import { snapshotAndPath } from "./parsers.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";
import { childPath, lookup, treeOf, walk, type PathNode } from "./snapshot-tree.ts";

interface LsFlags extends RepoFlags {
  long?: boolean;
  recursive?: boolean;
}

/** Registers `ferry ls`. */
export function registerLs(program: Command): void {
  const command = program
    .command("ls")
    .summary("list files in a snapshot")
    .description(
      "List the entries of a directory in a snapshot (the snapshot's root when no path is given), or everything below it with --recursive.",
    )
    .argument("<snapshot>", 'a snapshot id (4+ hex digits) or "latest", optionally :/path')
    .option("-l, --long", "show type and mode, owner, group, size and modification time")
    .option("-R, --recursive", "list everything below the directory")
    .option("--json", "print the entries as a JSON array");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
${PASSWORD_HELP}

Examples:
  ferry ls latest
  ferry ls latest:/srv/www -l
  ferry ls 1a2b3c4d:/etc --recursive
  ferry ls latest:/home/alice/notes.txt --json`,
  );
  command.action(async (target: string, flags: LsFlags) => {
    const { ref, path } = snapshotAndPath(target);
    const entries = await withRepository(flags, async (repo) => {
      const { snapshot } = await repo.resolveSnapshot(ref);
      await repo.loadIndex();
      const found = await lookup(repo, snapshot, path ?? "/");
      const out: PathNode[] = [];
      if (found.node !== undefined && found.node.type !== "dir") {
        out.push({ path: found.path, node: found.node });
        return out;
      }
      const tree = treeOf(snapshot, found.node);
      if (flags.recursive === true) {
        for await (const entry of walk(repo, tree, found.path)) out.push(entry);
      } else if (tree !== undefined) {
        for (const node of await repo.loadTree(tree)) {
          out.push({ path: childPath(found.path, node.name), node });
        }
      }
      return out;
    });
    if (flags.json === true) {
      printJson(entries.map(nodeJson));
      return;
    }
    process.stdout.write(flags.long === true ? longListing(entries) : shortListing(entries));
  });
}

function display({ path, node }: PathNode): string {
  return node.type === "symlink" ? `${path} -> ${node.target ?? ""}` : path;
}

function shortListing(entries: readonly PathNode[]): string {
  return entries.map((e) => `${display(e)}\n`).join("");
}

function longListing(entries: readonly PathNode[]): string {
  const rows = entries.map((e) => [
    formatMode(e.node.type, e.node.mode),
    e.node.user ?? String(e.node.uid),
    e.node.group ?? String(e.node.gid),
    String(e.node.size),
    formatTime(nsToDate(e.node.mtime)),
    display(e),
  ]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(0, ...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map(
      ([mode = "", user = "", group = "", size = "", time = "", name = ""]) =>
        `${mode} ${user.padEnd(widths[1] ?? 0)} ${group.padEnd(widths[2] ?? 0)} ${size.padStart(widths[3] ?? 0)} ${time} ${name}\n`,
    )
    .join("");
}

/** A node as `--json` prints it (shared with find). */
export function nodeJson({ path, node }: PathNode): Record<string, unknown> {
  return {
    path,
    name: node.name,
    type: node.type,
    mode: node.mode,
    permissions: formatMode(node.type, node.mode),
    uid: node.uid,
    gid: node.gid,
    ...(node.user === undefined ? {} : { user: node.user }),
    ...(node.group === undefined ? {} : { group: node.group }),
    size: node.size,
    mtime: nsToIso(node.mtime),
    ...(node.target === undefined ? {} : { target: node.target }),
  };
}
