/**
 * The per-entry steps of a restore in the target directory: directories, the decision for each
 * file (create, skip, refuse), symlinks, hardlinks, and directory metadata at the end.
 */
import { constants } from "node:fs";
import {
  link,
  mkdir,
  open,
  readdir,
  readlink,
  stat,
  symlink,
  type FileHandle,
} from "node:fs/promises";
import { join } from "node:path";
import type { BlobLocation } from "../repo/index-file.ts";
import { mapLimit } from "../repo/io.ts";
import type { Repository } from "../repo/repository.ts";
import type { FileJob } from "./restore-data.ts";
import type { PlanEntry } from "./restore-plan.ts";
import type { Meter } from "./restore-progress.ts";
import {
  applyDirMeta,
  applyHandleMeta,
  applySymlinkMeta,
  clearFor,
  CREATE_FLAGS,
  ensureDir,
  lstatOrUndefined,
  quickSame,
  reason,
  sameChunks,
  type Decision,
  type Overwrite,
} from "./restore-target.ts";

/** Counts a restore reports. */
export interface RestoreCounts {
  /** Regular files written (hardlinks not counted). */
  files: number;
  /** Directories created or updated. */
  dirs: number;
  symlinks: number;
  /** Hardlinks made to a file restored earlier in the same run. */
  hardlinks: number;
  /** Bytes written. */
  bytes: number;
  /** Existing files, symlinks and hardlinks left as they were (`overwrite`). */
  skipped: number;
  /** Everything not restored or not fully (metadata), one message each. */
  warnings: string[];
}

/** What the steps of one restore share. */
export interface RestoreContext {
  repo: Repository;
  target: string;
  overwrite: Overwrite;
  owner: boolean;
  result: RestoreCounts;
  progress: Meter;
  warn: (message: string) => void;
  /** Snapshot paths of files left out because the repository is damaged. */
  damaged: string[];
}

/** What is known of a directory files are created in. */
interface DirState {
  /** Could not be made: nothing goes below it. */
  blocked: boolean;
  /** Made by this run (mode 0700 until the end): nothing else can be in it. */
  fresh: boolean;
  /** Group of new files in it, when it has the set-group-id bit. */
  inheritedGid: number | undefined;
}

const EUID = process.geteuid?.();
const EGID = process.getegid?.();
const S_ISGID = 0o2000;
/** Filesystem steps run at once. */
const PARALLEL = 16;

/** Creates what the plan lists, one entry at a time, in a target directory. */
export class EntryWriter {
  readonly #ctx: RestoreContext;
  /** By directory entry; `undefined` is the target itself. */
  readonly #dirs = new Map<PlanEntry | undefined, DirState>();
  readonly #made: PlanEntry[] = [];
  /** File entries present in the target after this run, for hardlinks to point at. */
  readonly #present = new Set<PlanEntry>();

  private constructor(ctx: RestoreContext, target: DirState) {
    this.#ctx = ctx;
    this.#dirs.set(undefined, target);
  }

  /** Creates the target when missing; an empty target counts as fresh too. */
  static async open(ctx: RestoreContext): Promise<EntryWriter> {
    const created = await mkdir(ctx.target, { recursive: true });
    const fresh = created !== undefined || (await readdir(ctx.target)).length === 0;
    const st = await stat(ctx.target);
    const inheritedGid = (st.mode & S_ISGID) !== 0 ? st.gid : undefined;
    return new EntryWriter(ctx, { blocked: false, fresh, inheritedGid });
  }

  /** Where an entry goes. */
  dest(entry: PlanEntry): string {
    return join(this.#ctx.target, entry.rel);
  }

  /** True when the entry's directory could not be made. */
  blocked(entry: PlanEntry): boolean {
    return this.#dirOf(entry).blocked;
  }

  /** Marks a file entry as present (written by the data phase). */
  present(entry: PlanEntry): void {
    this.#present.add(entry);
  }

  #dirOf(entry: PlanEntry): DirState {
    return this.#dirs.get(entry.parent) ?? { blocked: true, fresh: false, inheritedGid: undefined };
  }

  /** Makes a directory (parents come first in the plan); a refusal blocks what is below. */
  async dir(entry: PlanEntry): Promise<void> {
    const parent = this.#dirOf(entry);
    if (parent.blocked) {
      this.#dirs.set(entry, parent);
      return;
    }
    const path = this.dest(entry);
    const made = await ensureDir(path, this.#ctx.overwrite).catch((error: unknown) => ({
      refuse: reason(error),
    }));
    if ("refuse" in made) {
      this.#dirs.set(entry, { blocked: true, fresh: false, inheritedGid: undefined });
      this.#ctx.warn(`${entry.path}: not restored to ${path}: ${made.refuse}.`);
      return;
    }
    // Linux: a new directory in a set-group-id one takes its group and the bit.
    this.#dirs.set(entry, {
      blocked: false,
      fresh: made.made,
      inheritedGid: made.made
        ? parent.inheritedGid
        : (made.mode & S_ISGID) !== 0
          ? made.gid
          : undefined,
    });
    this.#made.push(entry);
    this.#ctx.result.dirs++;
  }

  /** Whether a file created here needs a chown to get the node's owner. */
  #needsChown(entry: PlanEntry): boolean {
    if (!this.#ctx.owner) return false;
    const { node } = entry;
    const gid = this.#dirOf(entry).inheritedGid ?? EGID;
    return node.uid !== EUID || node.gid !== gid;
  }

  /** What to do at a path: a fresh directory needs no look. */
  async #decide(
    entry: PlanEntry,
    same: Parameters<typeof clearFor>[2],
    defer = false,
  ): Promise<Decision> {
    if (this.#dirOf(entry).fresh) return "create";
    return clearFor(this.dest(entry), this.#ctx.overwrite, same, defer);
  }

  /**
   * Prepares a regular file: skipped or refused per `overwrite`, created at once when empty, or
   * returned as a job for the data phase.
   */
  async file(entry: PlanEntry): Promise<FileJob | undefined> {
    const { repo, result, progress, warn } = this.#ctx;
    const { node } = entry;
    const path = this.dest(entry);
    const chunks: { id: string; location: BlobLocation }[] = [];
    try {
      for (const id of node.content ?? []) chunks.push({ id, location: repo.locate("data", id) });
    } catch (error) {
      this.#ctx.damaged.push(entry.path);
      warn(`${entry.path}: not restored: ${reason(error)}`);
      return undefined;
    }
    const size = chunks.reduce((sum, c) => sum + c.location.rawLength, 0);
    const found = { byHash: false };
    const decision = await this.#decide(
      entry,
      async (st) => {
        if (quickSame(st, node, size)) return true;
        if (!st.isFile() || st.size !== BigInt(size)) return false;
        const pieces = chunks.map((c) => ({ id: c.id, length: c.location.rawLength }));
        found.byHash = await sameChunks(path, pieces, (data) => repo.blobId(data));
        return found.byHash;
      },
      chunks.length > 0,
    );
    const chown = this.#needsChown(entry);
    if (typeof decision === "object") {
      warn(`${entry.path}: not restored to ${path}: ${decision.refuse}.`);
      return undefined;
    }
    if (decision === "skip") {
      this.#present.add(entry);
      result.skipped++;
      progress.add(1, size, entry.path);
      // Same contents, other mtime: the metadata is restored, the contents left alone.
      if (found.byHash) {
        await withHandle(path, constants.O_RDONLY, (h) =>
          applyHandleMeta(h, node, this.#ctx.owner),
        );
      }
      return undefined;
    }
    if (chunks.length > 0) {
      return {
        path: entry.path,
        dest: path,
        node,
        size,
        chunks,
        chown,
        replace: decision === "replace",
      };
    }
    await withHandle(path, CREATE_FLAGS, (h) => applyHandleMeta(h, node, chown), 0o600);
    this.#present.add(entry);
    result.files++;
    progress.add(1, 0, entry.path);
    return undefined;
  }

  /** Creates a symlink with its target exactly as stored (never resolved). */
  async symlink(entry: PlanEntry): Promise<void> {
    const { result, warn } = this.#ctx;
    const path = this.dest(entry);
    const to = entry.node.target;
    if (to === undefined) {
      warn(`${entry.path}: not restored: the symlink has no target recorded.`);
      return;
    }
    const decision = await this.#decide(
      entry,
      async (st) => st.isSymbolicLink() && (await readlink(path)) === to,
    );
    if (typeof decision === "object") {
      warn(`${entry.path}: not restored to ${path}: ${decision.refuse}.`);
    } else if (decision === "skip") {
      result.skipped++;
    } else {
      await symlink(to, path);
      result.symlinks++;
      await applySymlinkMeta(path, entry.node, this.#ctx.owner).catch((error: unknown) => {
        warn(`${entry.path}: restored without its owner or mtime: ${reason(error)}`);
      });
    }
  }

  /** Links a later member of a hardlink group to the first, once that one is in place. */
  async hardlink(entry: PlanEntry): Promise<void> {
    const { result, warn } = this.#ctx;
    const primary = entry.linkTo;
    if (primary === undefined) return;
    if (!this.#present.has(primary)) {
      warn(`${entry.path}: not restored: it is a hardlink to ${primary.path}, which was not.`);
      return;
    }
    const path = this.dest(entry);
    try {
      const decision = await this.#decide(entry, async (st) => {
        const first = await lstatOrUndefined(this.dest(primary));
        return first !== undefined && first.ino === st.ino && first.dev === st.dev;
      });
      if (typeof decision === "object") {
        warn(`${entry.path}: not restored to ${path}: ${decision.refuse}.`);
      } else if (decision === "skip") {
        result.skipped++;
      } else {
        await link(this.dest(primary), path);
        result.hardlinks++;
      }
    } catch (error) {
      warn(`${entry.path}: not restored to ${path}: ${reason(error)}`);
    }
  }

  /**
   * Applies the metadata of every directory made or reused, after everything inside is written
   * (which moves a directory's mtime): deepest level first, as a parent's mode may forbid
   * reaching its children; one level's directories in parallel.
   */
  async finishDirs(): Promise<void> {
    const levels = new Map<number, PlanEntry[]>();
    for (const entry of this.#made) {
      const depth = entry.rel.split("/").length;
      const level = levels.get(depth);
      if (level === undefined) levels.set(depth, [entry]);
      else level.push(entry);
    }
    for (const depth of [...levels.keys()].sort((a, b) => b - a)) {
      await mapLimit(levels.get(depth) ?? [], PARALLEL, async (entry) => {
        await applyDirMeta(this.dest(entry), entry.node, this.#ctx.owner).catch(
          (error: unknown) => {
            this.#ctx.warn(`${entry.path}: restored without all its metadata: ${reason(error)}`);
          },
        );
      });
    }
  }
}

async function withHandle(
  path: string,
  flags: number,
  fn: (handle: FileHandle) => Promise<void>,
  mode?: number,
): Promise<void> {
  const handle = await open(path, flags | constants.O_NOFOLLOW, mode);
  try {
    await fn(handle);
  } finally {
    await handle.close();
  }
}
