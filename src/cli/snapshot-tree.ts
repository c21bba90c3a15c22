/**
 * Reading a snapshot's trees for ls, find and diff: finding the node at a path, and walking a
 * directory depth-first in name order.
 */
import { posix } from "node:path";
import { RepoError } from "../repo/errors.ts";
import type { Repository } from "../repo/repository.ts";
import type { Snapshot } from "../repo/snapshot.ts";
import type { TreeNode } from "../repo/tree.ts";

/** A node with its absolute path in the snapshot. */
export interface PathNode {
  path: string;
  node: TreeNode;
}

/** `/srv//www/` → `/srv/www`; a relative path is taken from the root. */
export function normalizePath(path: string): string {
  const normal = posix.normalize(`/${path}`);
  return normal.length > 1 ? normal.replace(/\/+$/, "") : normal;
}

/** `/srv` + `www` → `/srv/www`. */
export function childPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/**
 * The node at `path` (undefined for the root `/`, which has a tree but no node); NOT_FOUND
 * naming the first missing part.
 */
export async function lookup(
  repo: Repository,
  snapshot: Snapshot,
  path: string,
): Promise<{ path: string; node: TreeNode | undefined }> {
  const normal = normalizePath(path);
  let tree: string | undefined = snapshot.tree;
  let node: TreeNode | undefined;
  let walked = "";
  for (const name of normal.split("/").filter((n) => n !== "")) {
    if (tree === undefined) {
      throw new RepoError("NOT_FOUND", `${walked} is not a directory in the snapshot.`);
    }
    walked += `/${name}`;
    node = (await repo.loadTree(tree)).find((n) => n.name === name);
    if (node === undefined) throw new RepoError("NOT_FOUND", `${walked} is not in the snapshot.`);
    tree = node.type === "dir" ? node.subtree : undefined;
  }
  return { path: normal, node };
}

/** The tree id of a directory node, or of the root when `node` is undefined. */
export function treeOf(snapshot: Snapshot, node: TreeNode | undefined): string | undefined {
  return node === undefined ? snapshot.tree : node.type === "dir" ? node.subtree : undefined;
}

/**
 * Visits every node below the directory `tree` (at `dir`) depth-first, in name order, a
 * directory before its contents. Yields as it goes, so a large tree is never held whole.
 */
export async function* walk(
  repo: Repository,
  tree: string | undefined,
  dir: string,
): AsyncGenerator<PathNode> {
  if (tree === undefined) return;
  for (const node of await repo.loadTree(tree)) {
    const path = childPath(dir, node.name);
    yield { path, node };
    if (node.type === "dir") yield* walk(repo, node.subtree, path);
  }
}
