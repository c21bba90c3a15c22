/**
 * What a restore or a dump will create: the snapshot's nodes under one path, filtered, in
 * pre-order (a directory before its contents), with hardlinks grouped.
 */
import { posix } from "node:path";
import { RepoError } from "../repo/errors.ts";
import type { Repository } from "../repo/repository.ts";
import type { Snapshot } from "../repo/snapshot.ts";
import type { TreeNode } from "../repo/tree.ts";
import { anyMatch, compilePattern } from "./excludes.ts";
import { Semaphore } from "./semaphore.ts";

/** One thing to create. */
export interface PlanEntry {
  kind: "dir" | "file" | "symlink" | "hardlink" | "special";
  /** Absolute path in the snapshot. */
  path: string;
  /** Path below the restore root, `/`-separated, never empty. */
  rel: string;
  node: TreeNode;
  /** The directory entry holding this one; undefined directly under the restore root. */
  parent: PlanEntry | undefined;
  /** For a hardlink: the file entry it links to (the first of its group in the plan). */
  linkTo?: PlanEntry;
}

/** The located start of a restore or dump. */
export interface PlanRoot {
  /** Normalised absolute snapshot path. */
  path: string;
  /** The node at `path`; undefined for the snapshot root `/`. */
  node: TreeNode | undefined;
}

/** Selection options of a plan. */
export interface PlanOptions {
  include?: readonly string[] | undefined;
  exclude?: readonly string[] | undefined;
  signal?: AbortSignal | undefined;
}

/** Every entry in pre-order, with totals of the regular files (hardlinks not counted twice). */
export interface RestorePlan {
  root: PlanRoot;
  entries: PlanEntry[];
  totalFiles: number;
  totalBytes: number;
}

/** Normalises a snapshot path: absolute, no trailing slash, no `.` or `..` segments. */
export function normalizeSnapshotPath(path: string): string {
  if (!path.startsWith("/")) {
    throw new RepoError(
      "INVALID",
      `"${path}" is not an absolute path; snapshot paths start with / (the root of the backed-up machine).`,
    );
  }
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/+$/, "") : normal;
}

/** Finds the node at `path` in a snapshot; NOT_FOUND when nothing is there. */
export async function findNode(
  repo: Repository,
  snapshot: Snapshot,
  path: string,
): Promise<PlanRoot> {
  const normal = normalizeSnapshotPath(path);
  let tree: string | undefined = snapshot.tree;
  let node: TreeNode | undefined;
  let walked = "";
  for (const name of normal
    .split("/")
    .slice(1)
    .filter((n) => n !== "")) {
    if (tree === undefined) {
      throw new RepoError("NOT_FOUND", `${walked} is not a directory in the snapshot.`);
    }
    walked += `/${name}`;
    node = tree === EMPTY ? undefined : (await repo.loadTree(tree)).find((n) => n.name === name);
    if (node === undefined) {
      throw new RepoError("NOT_FOUND", `${walked} is not in the snapshot.`);
    }
    tree = node.type === "dir" ? (node.subtree ?? EMPTY) : undefined;
  }
  return { path: normal, node };
}

/** Stands for a directory node without a subtree: it has no contents. */
const EMPTY = "";

/** Walks the snapshot below `path` and lists what to create, in pre-order. */
export async function planRestore(
  repo: Repository,
  snapshot: Snapshot,
  path: string,
  options: PlanOptions = {},
): Promise<RestorePlan> {
  const root = await findNode(repo, snapshot, path);
  const includes = (options.include ?? []).map(compilePattern);
  const excludes = (options.exclude ?? []).map(compilePattern);
  const included = (p: string): boolean => anyMatch(includes, p);
  const excluded = (p: string): boolean => anyMatch(excludes, p);
  const includeAll = includes.length === 0;
  const above = pathAndAncestors(root.path);
  const plan: RestorePlan = { root, entries: [], totalFiles: 0, totalBytes: 0 };
  if (above.some(excluded)) return plan;
  const rootIncluded = includeAll || above.some(included);
  const slots = new Semaphore(Math.max(4, repo.storage.capabilities.maxConnections));
  const load = async (tree: string): Promise<TreeNode[]> => {
    await slots.acquire();
    try {
      return await repo.loadTree(tree);
    } finally {
      slots.release();
    }
  };

  const walk = async (
    tree: string,
    dirPath: string,
    dirRel: string,
    parent: PlanEntry | undefined,
    inside: boolean,
  ): Promise<PlanEntry[]> => {
    options.signal?.throwIfAborted();
    if (tree === EMPTY) return [];
    const nodes = await load(tree);
    const lists = await Promise.all(
      nodes.map(async (node): Promise<PlanEntry[]> => {
        const childPath = dirPath === "/" ? `/${node.name}` : `${dirPath}/${node.name}`;
        if (excluded(childPath)) return [];
        const rel = dirRel === "" ? node.name : `${dirRel}/${node.name}`;
        const selected = inside || included(childPath);
        const entry: PlanEntry = { kind: kindOf(node), path: childPath, rel, node, parent };
        if (node.type !== "dir") return selected ? [entry] : [];
        const below = await walk(node.subtree ?? EMPTY, childPath, rel, entry, selected);
        return selected || below.length > 0 ? [entry, ...below] : [];
      }),
    );
    return lists.flat();
  };

  if (root.node === undefined) {
    plan.entries = await walk(snapshot.tree, "/", "", undefined, rootIncluded);
  } else if (root.node.type === "dir") {
    plan.entries = await walk(root.node.subtree ?? EMPTY, root.path, "", undefined, rootIncluded);
  } else if (rootIncluded) {
    plan.entries = [
      {
        kind: kindOf(root.node),
        path: root.path,
        rel: root.node.name,
        node: root.node,
        parent: undefined,
      },
    ];
  }
  groupHardlinks(plan);
  return plan;
}

function kindOf(node: TreeNode): PlanEntry["kind"] {
  if (node.type === "file" || node.type === "dir" || node.type === "symlink") return node.type;
  return "special";
}

/** Turns later members of each device+inode group into hardlinks to the first; counts files. */
function groupHardlinks(plan: RestorePlan): void {
  const first = new Map<string, PlanEntry>();
  for (const entry of plan.entries) {
    if (entry.kind !== "file") continue;
    const { node } = entry;
    if (node.links > 1) {
      const key = `${node.device}:${node.inode}`;
      const primary = first.get(key);
      if (primary !== undefined) {
        entry.kind = "hardlink";
        entry.linkTo = primary;
        continue;
      }
      first.set(key, entry);
    }
    plan.totalFiles++;
    plan.totalBytes += node.size;
  }
}

/** `path` itself and every directory above it, without `/` itself. */
function pathAndAncestors(path: string): string[] {
  const out: string[] = [];
  for (let at = path.indexOf("/", 1); at !== -1; at = path.indexOf("/", at + 1)) {
    out.push(path.slice(0, at));
  }
  if (path !== "/") out.push(path);
  return out;
}
