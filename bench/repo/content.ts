/**
 * The bytes of one planned file, produced in pieces of at most 1 MiB so that a 200 MiB file
 * never sits in memory, and written to disk. A copy replays its source's stream after its own
 * prefix, so it needs neither the source on disk nor any order of writing.
 */
import { mkdir, open } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { FileSpec, TreePlan } from "./plan.ts";
import { RandomBytes } from "./random.ts";
import { TextSource } from "./text.ts";

const PIECE = 1 << 20;

/** A reader of the bytes a file of `style` gets from the stream named by `parts`. */
function source(
  style: FileSpec["style"],
  parts: (string | number)[],
): { read: (n: number) => Buffer } {
  return style === "binary" ? new RandomBytes(...parts) : new TextSource(style, ...parts);
}

/** The pieces of file `index` of the plan, in order; their lengths add up to its size. */
export function* contentOf(plan: TreePlan, index: number): Generator<Buffer> {
  const spec = plan.files[index];
  if (spec === undefined) throw new Error(`no file ${String(index)} in the plan`);
  let left = spec.size;
  const own = source(spec.style, [plan.seed, "file", index]);
  let ownBytes = spec.copyOf === undefined ? spec.size : (spec.prefix ?? 0);
  while (ownBytes > 0) {
    const piece = own.read(Math.min(PIECE, ownBytes));
    ownBytes -= piece.length;
    left -= piece.length;
    yield piece;
  }
  if (spec.copyOf !== undefined) {
    for (const piece of contentOf(plan, spec.copyOf)) {
      if (left <= 0) break;
      const cut = piece.length > left ? piece.subarray(0, left) : piece;
      left -= cut.length;
      yield cut;
    }
  }
}

/** Writes `pieces` to `root/path`, creating the directory; replaces any file there. */
export async function writePieces(
  root: string,
  path: string,
  pieces: Iterable<Buffer>,
): Promise<void> {
  const file = join(root, path);
  const handle = await open(file, "w").catch(async (error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await mkdir(dirname(file), { recursive: true });
    return open(file, "w");
  });
  try {
    for (const piece of pieces) await handle.write(piece);
  } finally {
    await handle.close();
  }
}

/** Writes file `index` of the plan below `root`. */
export function writePlanned(root: string, plan: TreePlan, index: number): Promise<void> {
  const spec = plan.files[index];
  if (spec === undefined) throw new Error(`no file ${String(index)} in the plan`);
  return writePieces(root, spec.path, contentOf(plan, index));
}
