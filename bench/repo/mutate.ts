/**
 * The day's changes between two backups, the same on every run: about 1 % of the files get a
 * region rewritten (text files half the time also grow, as logs do), the big log grows, 100 files
 * are added and 100 deleted (scaled). Undone by regenerating the touched files from the plan.
 */
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { writePieces, writePlanned } from "./content.ts";
import { scaled, type FileSpec, type TreePlan } from "./plan.ts";
import { RandomBytes, Rng } from "./random.ts";
import { TextSource } from "./text.ts";

const KiB = 1024;

/** One changed file: bytes [offset, offset+length) rewritten, then `append` bytes added. */
export interface Change {
  index: number;
  offset: number;
  length: number;
  append: number;
}

/** What the mutation does. */
export interface Mutation {
  changed: Change[];
  added: FileSpec[];
  deleted: number[];
  /** Bytes in the tree once mutated. */
  bytes: number;
}

function stream(style: FileSpec["style"], ...parts: (string | number)[]) {
  return style === "binary" ? new RandomBytes(...parts) : new TextSource(style, ...parts);
}

/** The mutation of a plan (a pure function of it). */
export function planMutation(plan: TreePlan): Mutation {
  const rng = new Rng(plan.seed, "mutate");
  const files = plan.files;
  const bigLog = files.findIndex((f) => f.path.startsWith("var/log/access complète"));
  const taken = new Set<number>([bigLog, files.length - 1]);
  const pickFree = (): number => {
    for (;;) {
      const i = rng.int(files.length);
      if (!taken.has(i)) {
        taken.add(i);
        return i;
      }
    }
  };
  const changed: Change[] = [];
  const bigSize = files[bigLog]?.size ?? 0;
  changed.push({ index: bigLog, offset: bigSize, length: 0, append: Math.round(bigSize / 200) });
  const changeCount = Math.max(1, Math.round(files.length * 0.01)) - 1;
  for (let n = 0; n < changeCount && taken.size < files.length; n++) {
    const index = pickFree();
    const size = files[index]?.size ?? 0;
    const offset = rng.int(size);
    const length = Math.min(size - offset, rng.between(512, 64 * KiB));
    const grows = files[index]?.style !== "binary" && rng.chance(0.5);
    changed.push({ index, offset, length, append: grows ? rng.between(200, 8 * KiB) : 0 });
  }
  const deleted: number[] = [];
  const deleteCount = Math.min(scaled(100, plan.scale), files.length - taken.size);
  for (let n = 0; n < deleteCount; n++) deleted.push(pickFree());
  const added: FileSpec[] = [];
  for (let n = 0; n < scaled(100, plan.scale); n++) {
    const text = rng.chance(0.65);
    const ext = text ? rng.pick(["log", "md", "ts"]) : rng.pick(["jpg", "bin"]);
    const style =
      ext === "log" ? "log" : ext === "md" ? "prose" : ext === "ts" ? "source" : "binary";
    added.push({
      path: `${rng.pick(plan.dirs)}/nouveau ✨ ${String(n)}.${ext}`,
      size: Math.round(KiB * Math.pow(64, rng.float())),
      style,
    });
  }
  const bytes =
    plan.bytes +
    changed.reduce((sum, c) => sum + c.append, 0) +
    added.reduce((sum, f) => sum + f.size, 0) -
    deleted.reduce((sum, i) => sum + (files[i]?.size ?? 0), 0);
  return { changed, added, deleted, bytes };
}

/** Applies the mutation to the tree at `root`. */
export async function applyMutation(root: string, plan: TreePlan, m: Mutation): Promise<void> {
  for (const c of m.changed) {
    const spec = plan.files[c.index];
    if (spec === undefined) continue;
    const fresh = stream(spec.style, plan.seed, "change", c.index);
    const handle = await open(join(root, spec.path), "r+");
    try {
      if (c.length > 0) await handle.write(fresh.read(c.length), 0, c.length, c.offset);
      if (c.append > 0) await handle.write(fresh.read(c.append), 0, c.append, spec.size);
    } finally {
      await handle.close();
    }
  }
  for (const [n, spec] of m.added.entries()) {
    await writePieces(root, spec.path, [stream(spec.style, plan.seed, "added", n).read(spec.size)]);
  }
  for (const index of m.deleted) {
    const spec = plan.files[index];
    if (spec !== undefined) await rm(join(root, spec.path));
  }
}

/** Puts the tree back as the plan has it (whether the mutation was applied fully or partly). */
export async function revertMutation(root: string, plan: TreePlan, m: Mutation): Promise<void> {
  for (const index of [...m.changed.map((c) => c.index), ...m.deleted]) {
    await writePlanned(root, plan, index);
  }
  for (const spec of m.added) await rm(join(root, spec.path), { force: true });
}
