/**
 * The benchmark tree as data: every directory and file with its size, kind and where its bytes
 * come from. A pure function of (seed, scale), so a run can regenerate any one file (to undo a
 * mutation) without reading the others. At scale 1: 20,000 files of 1–64 KiB, 300 of 1–8 MiB,
 * a 200 MiB log and a 200 MiB random image, about 1.2 GiB in all, about 10 % of it duplicated.
 */
import { Rng } from "./random.ts";
import type { TextStyle } from "./text.ts";

/** One file of the tree. */
export interface FileSpec {
  /** Path below the tree root, "/"-separated. */
  path: string;
  size: number;
  /** Text compresses; binary is random. */
  style: TextStyle | "binary";
  /** Index of the file whose bytes follow this file's own `prefix` bytes (a copy or near-copy). */
  copyOf?: number;
  /** Own bytes before the copied ones (0 for an exact copy). */
  prefix?: number;
}

/** The whole tree. */
export interface TreePlan {
  seed: number;
  scale: number;
  dirs: string[];
  files: FileSpec[];
  bytes: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const FULL = { small: 20_000, medium: 300, dirs: 400, big: 200 * MiB };
/** Share of small files that are exact copies of another, and of large ones near-copies. */
const SMALL_COPIES = 0.08;
const MEDIUM_COPIES = 0.22;

const TOPS = [
  "www/htdocs",
  "home/alice/Documents",
  "home/bob/Mes documents",
  "données",
  "日本語",
  "projects 🚀",
  "var/log",
  "src",
  "photos",
];
const DIR_NAMES = [
  "archive",
  "2023",
  "2024",
  "clients",
  "données brutes",
  "élèves",
  "資料",
  "写真",
  "backup 📦",
  "node_modules",
  "vendor",
  "assets",
  "Übersicht",
  "old stuff",
  "проекты",
  "tmp",
];
const STEMS = [
  "report",
  "données",
  "facture",
  "notes",
  "日本語",
  "写真",
  "résumé",
  "my file",
  "журнал",
  "index",
  "config",
  "émoji 🎉",
  "naïve café",
  "Größe",
  "main",
  "backup 📦",
];
const TEXT_EXT: Record<string, TextStyle> = {
  log: "log",
  txt: "prose",
  md: "prose",
  ts: "source",
  py: "source",
  c: "source",
  html: "source",
  json: "source",
  csv: "log",
  sql: "source",
};
const BINARY_EXT = ["bin", "jpg", "png", "zip", "db", "pdf", "gz", "mp3"];

/** How many of something there are at this scale (at least one). */
export function scaled(full: number, scale: number): number {
  return Math.max(1, Math.round(full * scale));
}

function directories(rng: Rng, count: number): string[] {
  const dirs = [...TOPS];
  for (let i = 0; i < count; i++) {
    const parent = rng.pick(dirs);
    if (parent.split("/").length >= 6) continue;
    const child = `${parent}/${rng.pick(DIR_NAMES)}${rng.chance(0.5) ? ` ${String(i)}` : ""}`;
    if (!dirs.includes(child)) dirs.push(child);
  }
  return dirs;
}

/** A file name unique through its index, text or binary by the roll. */
function name(rng: Rng, index: number, text: boolean): { base: string; style: FileSpec["style"] } {
  const sep = rng.pick([" ", "-", "_"]);
  const stem = `${rng.pick(STEMS)}${sep}${String(index).padStart(5, "0")}`;
  if (!text) return { base: `${stem}.${rng.pick(BINARY_EXT)}`, style: "binary" };
  const ext = rng.pick(Object.keys(TEXT_EXT));
  return { base: `${stem}.${ext}`, style: TEXT_EXT[ext] ?? "prose" };
}

/** The tree for a seed and scale (0 < scale ≤ 1 shrinks counts and the two big files). */
export function planTree(seed: number, scale: number): TreePlan {
  const rng = new Rng(seed, "plan");
  const dirs = directories(rng, scaled(FULL.dirs, scale));
  const files: FileSpec[] = [];
  const add = (spec: FileSpec) => files.push(spec);

  const smallCount = scaled(FULL.small, scale);
  const originals: number[] = [];
  for (let i = 0; i < smallCount; i++) {
    if (originals.length > 10 && rng.chance(SMALL_COPIES)) {
      const source = rng.pick(originals);
      const original = files[source];
      if (original !== undefined) {
        const base = original.path.slice(original.path.lastIndexOf("/") + 1);
        add({
          path: `${rng.pick(dirs)}/copie ${String(files.length)} de ${base}`,
          size: original.size,
          style: original.style,
          copyOf: source,
          prefix: 0,
        });
        continue;
      }
    }
    // 1–64 KiB, uniform in log(size): many small files, fewer near 64 KiB
    const size = Math.round(KiB * Math.pow(64, rng.float()));
    const { base, style } = name(rng, files.length, rng.chance(0.65));
    originals.push(files.length);
    add({ path: `${rng.pick(dirs)}/${base}`, size, style });
  }

  const mediumCount = scaled(FULL.medium, scale);
  const firstMedium = files.length;
  for (let i = 0; i < mediumCount; i++) {
    if (i > 0 && rng.chance(MEDIUM_COPIES)) {
      // a new version of an earlier large file: some new bytes in front, then the old ones
      const source = firstMedium + rng.int(i);
      const original = files[source];
      if (original !== undefined && original.copyOf === undefined) {
        const prefix = rng.between(1, 64) * KiB + rng.int(KiB);
        const base = original.path.slice(original.path.lastIndexOf("/") + 1);
        add({
          path: `${rng.pick(dirs)}/v2 ${String(files.length)} ${base}`,
          size: prefix + original.size,
          style: original.style,
          copyOf: source,
          prefix,
        });
        continue;
      }
    }
    // 1–8 MiB, most near 1 MiB
    const size = MiB + Math.round(7 * MiB * Math.pow(rng.float(), 8));
    const { base, style } = name(rng, files.length, rng.chance(0.4));
    add({ path: `${rng.pick(dirs)}/${base}`, size, style });
  }

  const big = Math.max(KiB, Math.round(FULL.big * scale));
  add({ path: "var/log/access complète.log", size: big, style: "log" });
  add({ path: "home/alice/disque virtuel 💾.img", size: big, style: "binary" });

  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  return { seed, scale, dirs, files, bytes };
}
