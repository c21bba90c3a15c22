/**
 * Makes the benchmark tree on disk, or reuses the one there when its marker names the same
 * generator version, seed and scale. The marker also records whether the tree is mutated, so a
 * run that stopped half way leaves nothing a later run could mistake for the original.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writePlanned } from "./content.ts";
import { planMutation, revertMutation } from "./mutate.ts";
import { inParallel } from "./parallel.ts";
import { planTree, type TreePlan } from "./plan.ts";

/** Bumped whenever the plan or the content functions change what they produce. */
const VERSION = 1;
const PARALLEL = 8;

interface Marker {
  version: number;
  seed: number;
  scale: number;
  files: number;
  bytes: number;
  mutated: boolean;
}

/** The tree's location and plan. */
export interface Tree {
  /** The work directory that holds the tree and its marker. */
  dir: string;
  /** The tree itself: what every tool backs up. */
  root: string;
  plan: TreePlan;
}

const markerFile = (dir: string) => join(dir, "tree.json");

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(markerFile(dir), "utf8")) as Marker;
  } catch {
    return undefined;
  }
}

/** Records whether the tree on disk is the mutated one. */
export async function markMutated(tree: Tree, mutated: boolean): Promise<void> {
  const { plan } = tree;
  const marker: Marker = {
    version: VERSION,
    seed: plan.seed,
    scale: plan.scale,
    files: plan.files.length,
    bytes: plan.bytes,
    mutated,
  };
  await writeFile(markerFile(tree.dir), JSON.stringify(marker, null, 2) + "\n");
}

/** The tree for (seed, scale) under `dir`: reused, restored to its original state, or made. */
export async function ensureTree(
  dir: string,
  seed: number,
  scale: number,
  say: (line: string) => void,
): Promise<Tree> {
  const plan = planTree(seed, scale);
  const tree: Tree = { dir, root: join(dir, "tree"), plan };
  const marker = await readMarker(dir);
  if (marker?.version === VERSION && marker.seed === seed && marker.scale === scale) {
    if (marker.mutated) {
      say("tree: undoing the mutation a previous run left behind");
      await revertMutation(tree.root, plan, planMutation(plan));
      await markMutated(tree, false);
    }
    say(`tree: reusing ${tree.root} (seed ${String(seed)}, scale ${String(scale)})`);
    return tree;
  }
  await rm(markerFile(dir), { force: true });
  await rm(tree.root, { recursive: true, force: true });
  const mib = (plan.bytes / 2 ** 20).toFixed(0);
  say(`tree: generating ${String(plan.files.length)} files, ${mib} MiB in ${tree.root}`);
  const start = performance.now();
  await inParallel(plan.files.length, PARALLEL, (i) => writePlanned(tree.root, plan, i));
  await markMutated(tree, false);
  say(`tree: generated in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return tree;
}
