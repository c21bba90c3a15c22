/** Walking snapshot trees: which blobs they reach, and which files use a given set of blobs. */
import { RepoError } from "../repo/errors.ts";
import { mapLimit } from "../repo/io.ts";
import type { BlobType } from "../repo/pack.ts";
import type { TreeNode } from "../repo/tree.ts";

/** What a walk reached. */
export interface Reachable {
  /** Every blob reached, trees included, with the type it is used as. */
  blobs: Map<string, BlobType>;
  /** Trees loaded and decoded. */
  trees: number;
  /** Trees that could not be loaded or decoded, with why. */
  failures: Map<string, RepoError>;
}

/** Options of {@link walkTrees}. */
export interface WalkOptions {
  /** Trees loaded at once. */
  concurrency: number;
  signal?: AbortSignal | undefined;
  /** Called after each tree with the number loaded so far. */
  onTree?: ((trees: number) => void) | undefined;
}

/**
 * Walks every tree reachable from `roots`, each once, level by level. Trees that fail with a
 * RepoError are recorded and not descended; any other failure (a storage error) is thrown.
 */
export async function walkTrees(
  roots: readonly string[],
  load: (id: string) => Promise<TreeNode[]>,
  options: WalkOptions,
): Promise<Reachable> {
  const blobs = new Map<string, BlobType>();
  const failures = new Map<string, RepoError>();
  let trees = 0;
  let frontier = [...new Set(roots)];
  for (const root of frontier) blobs.set(root, "tree");
  while (frontier.length > 0) {
    const next: string[] = [];
    await mapLimit(frontier, options.concurrency, async (id) => {
      options.signal?.throwIfAborted();
      let nodes: TreeNode[];
      try {
        nodes = await load(id);
      } catch (error) {
        if (!(error instanceof RepoError)) throw error;
        failures.set(id, error);
        return;
      }
      options.onTree?.(++trees);
      for (const node of nodes) {
        for (const chunk of node.content ?? []) if (!blobs.has(chunk)) blobs.set(chunk, "data");
        if (node.subtree !== undefined && !blobs.has(node.subtree)) {
          blobs.set(node.subtree, "tree");
          next.push(node.subtree);
        }
      }
    });
    frontier = next;
  }
  return { blobs, trees, failures };
}

interface Hit {
  /** Path below the tree the hit was found in. */
  path: string;
  blob: string;
}

/**
 * For each blob in `wanted`: the snapshots that use it and the paths of the files (or, for a
 * tree, the directory) that need it. Paths start at the snapshot's root tree, `/` for the root
 * itself. Trees that cannot be loaded are skipped: their own ids are what is reported for them.
 */
export async function findUsers(
  snapshots: readonly { id: string; tree: string }[],
  wanted: ReadonlySet<string>,
  load: (id: string) => Promise<TreeNode[]>,
): Promise<Map<string, Map<string, Set<string>>>> {
  const users = new Map<string, Map<string, Set<string>>>();
  if (wanted.size === 0) return users;
  // Hits per tree, shared by every snapshot and directory that holds the same tree.
  const memo = new Map<string, Promise<Hit[]>>();
  const hitsOf = (tree: string): Promise<Hit[]> => {
    let pending = memo.get(tree);
    if (pending === undefined) {
      pending = (async () => {
        let nodes: TreeNode[];
        try {
          nodes = await load(tree);
        } catch (error) {
          if (error instanceof RepoError) return [];
          throw error;
        }
        const hits: Hit[] = [];
        for (const node of nodes) {
          for (const chunk of node.content ?? []) {
            if (wanted.has(chunk)) hits.push({ path: node.name, blob: chunk });
          }
          if (node.subtree === undefined) continue;
          if (wanted.has(node.subtree)) hits.push({ path: node.name, blob: node.subtree });
          for (const hit of await hitsOf(node.subtree)) {
            hits.push({ path: `${node.name}/${hit.path}`, blob: hit.blob });
          }
        }
        return hits;
      })();
      memo.set(tree, pending);
    }
    return pending;
  };
  const add = (blob: string, snapshot: string, path: string): void => {
    let bySnapshot = users.get(blob);
    if (bySnapshot === undefined) users.set(blob, (bySnapshot = new Map<string, Set<string>>()));
    let paths = bySnapshot.get(snapshot);
    if (paths === undefined) bySnapshot.set(snapshot, (paths = new Set()));
    paths.add(path);
  };
  for (const snapshot of snapshots) {
    if (wanted.has(snapshot.tree)) add(snapshot.tree, snapshot.id, "/");
    for (const hit of await hitsOf(snapshot.tree)) add(hit.blob, snapshot.id, `/${hit.path}`);
  }
  return users;
}
