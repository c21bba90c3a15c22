/**
 * Checks a restore: hashes every regular file of the source and of the restored tree and
 * compares names and SHA-256s. Directories and metadata are not compared: the tools differ on
 * them and the benchmark is about bytes.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { inParallel } from "./parallel.ts";

/** Relative path → SHA-256 (hex) of every regular file below a root. */
export type TreeHashes = Map<string, string>;

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

/** Hashes every regular file below `root`. */
export async function hashTree(root: string): Promise<TreeHashes> {
  const files = await listFiles(root);
  const hashes = new Array<string>(files.length);
  await inParallel(files.length, 4, async (i) => {
    hashes[i] = await sha256(join(root, files[i] ?? ""));
  });
  return new Map(files.map((f, i) => [f, hashes[i] ?? ""]));
}

/** Where a tool put the tree inside `target`: tools keep the full source path, or not. */
export async function restoredRoot(target: string, source: string): Promise<string> {
  const candidates = [join(target, source), join(target, source.split("/").pop() ?? ""), target];
  for (const dir of candidates) {
    const info = await stat(dir).catch(() => undefined);
    if (info?.isDirectory() && (await readdir(dir)).some((name) => name === "var")) return dir;
  }
  return target;
}

/** "" when the trees hold the same files with the same bytes, else what differs. */
export function compareTrees(expected: TreeHashes, actual: TreeHashes): string {
  const missing = [...expected.keys()].filter((f) => !actual.has(f));
  const extra = [...actual.keys()].filter((f) => !expected.has(f));
  const differ = [...expected].filter(([f, h]) => actual.has(f) && actual.get(f) !== h);
  const problems: string[] = [];
  const some = (list: string[]) =>
    list
      .slice(0, 3)
      .map((f) => JSON.stringify(f))
      .join(", ") + (list.length > 3 ? ", …" : "");
  if (missing.length > 0) problems.push(`${String(missing.length)} missing (${some(missing)})`);
  if (extra.length > 0) problems.push(`${String(extra.length)} unexpected (${some(extra)})`);
  if (differ.length > 0) {
    problems.push(`${String(differ.length)} with other bytes (${some(differ.map(([f]) => f))})`);
  }
  return problems.join("; ");
}
