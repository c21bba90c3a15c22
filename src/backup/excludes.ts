/**
 * What a backup leaves out: globs, exclude files, marker files, a size limit, other filesystems.
 * Pattern rules (also used by restore's --include/--exclude): a pattern without `/` matches a
 * base name at any depth; one starting with `/` matches an absolute path (and everything under
 * it); any other pattern matches the end of a path. `*`, `?`, `[...]` and `**` as in node's
 * path.matchesGlob.
 */
import { readFile, access } from "node:fs/promises";
import { basename, join, matchesGlob } from "node:path";

/** One compiled pattern. */
export type PathMatcher = (absPath: string) => boolean;

/** Compiles a glob pattern by the rules above. */
export function compilePattern(pattern: string): PathMatcher {
  const trimmed = pattern.length > 1 && pattern.endsWith("/") ? pattern.slice(0, -1) : pattern;
  if (!trimmed.includes("/")) return (path) => matchesGlob(basename(path), trimmed);
  if (trimmed.startsWith("/"))
    return (path) => matchesGlob(path, trimmed) || matchesGlob(path, `${trimmed}/**`);
  return (path) => matchesGlob(path, `**/${trimmed}`) || matchesGlob(path, `**/${trimmed}/**`);
}

/** True when any pattern matches. */
export function anyMatch(matchers: readonly PathMatcher[], path: string): boolean {
  return matchers.some((m) => m(path));
}

/** Reads patterns from an exclude file: one per line, `#` comments and blank lines ignored. */
export async function readPatternFile(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8");
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** The exclusion settings of one backup. */
export interface ExcludeOptions {
  patterns?: string[];
  /** Skip a directory that contains a file with one of these names (e.g. `.nobackup`). */
  ifPresent?: string[];
  /** Skip files larger than this many bytes. */
  largerThan?: number;
  /** Do not descend into other filesystems than the backed-up paths' own. */
  oneFileSystem?: boolean;
}

/** Decisions the walk asks for, compiled once. */
export class Excluder {
  readonly #matchers: PathMatcher[];
  readonly #ifPresent: string[];
  readonly largerThan: number | undefined;
  readonly oneFileSystem: boolean;

  constructor(options: ExcludeOptions = {}) {
    this.#matchers = (options.patterns ?? []).map(compilePattern);
    this.#ifPresent = options.ifPresent ?? [];
    this.largerThan = options.largerThan;
    this.oneFileSystem = options.oneFileSystem ?? false;
  }

  /** True when a path is excluded by pattern. */
  excludesPath(absPath: string): boolean {
    return anyMatch(this.#matchers, absPath);
  }

  /** True when a directory holds one of the marker files. */
  async excludesDir(absPath: string): Promise<boolean> {
    for (const marker of this.#ifPresent) {
      try {
        await access(join(absPath, marker));
        return true;
      } catch {
        // absent: keep looking
      }
    }
    return false;
  }
}
