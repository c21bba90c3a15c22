/**
 * Locks are leases (docs/format.md, "Locks"): a sealed file under `locks/` with an expiry the
 * holder pushes forward while it works. Shared locks (backup, check) coexist; an exclusive lock
 * (prune) excludes everything. A lease past its expiry, or one held by a dead process on this
 * host, is stale and is cleared by the next run with a message.
 */
import { randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { z } from "zod";
import { isStorageError } from "../storage/errors.ts";
import { RepoError } from "./errors.ts";
import { listNames, readAll } from "./io.ts";
import { DIRS, fileKey, isObjectName } from "./layout.ts";
import type { Repository } from "./repository.ts";
import { openJson, sealJson } from "./sealed-file.ts";

const lockSchema = z.object({
  version: z.literal(1),
  exclusive: z.boolean(),
  operation: z.string(),
  host: z.string(),
  pid: z.int(),
  user: z.string(),
  created: z.iso.datetime(),
  expires: z.iso.datetime(),
});

/** A decoded lock file. */
export type LockInfo = z.infer<typeof lockSchema>;

/** Lease timing; tests shorten it and pass a fake clock. */
export interface LeaseOptions {
  /** How long a lease lasts without refresh [10 minutes]. */
  leaseMs?: number;
  /** How often the holder refreshes [every 2 minutes]. */
  refreshMs?: number;
  now?: () => number;
  /** Told about stale locks cleared and refresh failures. */
  onMessage?: (message: string) => void;
}

const DEFAULT_LEASE_MS = 10 * 60_000;
const DEFAULT_REFRESH_MS = 2 * 60_000;

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why a lock is stale, or undefined when it is live. */
export function staleReason(lock: LockInfo, now: number, host = hostname()): string | undefined {
  if (Date.parse(lock.expires) < now) return `its lease expired at ${lock.expires}`;
  if (lock.host === host && lock.pid !== process.pid && !pidAlive(lock.pid)) {
    return `process ${lock.pid} on this host is gone`;
  }
  return undefined;
}

function describe(lock: LockInfo): string {
  return `${lock.exclusive ? "an exclusive" : "a shared"} lock for ${lock.operation} by ${lock.user}@${lock.host} (pid ${lock.pid}) since ${lock.created}, lease until ${lock.expires}`;
}

/** Reads every lock; undecodable ones are reported as such, not ignored. */
export async function listLocks(
  repo: Repository,
): Promise<{ name: string; lock?: LockInfo; error?: string }[]> {
  const names = (await listNames(repo.storage, DIRS.lock)).map((e) => e.name).filter(isObjectName);
  const out: { name: string; lock?: LockInfo; error?: string }[] = [];
  for (const name of names) {
    try {
      const bytes = await readAll(repo.storage, fileKey("lock", name));
      out.push({
        name,
        lock: lockSchema.parse(
          openJson(repo.keys.encryption, "lock", bytes, `Lock ${name.slice(0, 12)}`),
        ),
      });
    } catch (error) {
      if (isStorageError(error, "NOT_FOUND")) continue;
      // A failed read says nothing about the lock: never treat it as unreadable (and removable).
      if (isStorageError(error)) throw error;
      out.push({ name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return out;
}

/** A held lease. */
export class RepoLock {
  readonly #repo: Repository;
  readonly #info: Omit<LockInfo, "expires">;
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #onMessage: (message: string) => void;
  #name: string;
  /** Until when our last stored lease is valid. */
  #validUntil: number;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #released = false;
  /** Why the lease lapsed, once it has. */
  #lapsed: string | undefined;

  private constructor(
    repo: Repository,
    info: Omit<LockInfo, "expires">,
    name: string,
    validUntil: number,
    options: Required<Pick<LeaseOptions, "now" | "onMessage">> & { leaseMs: number },
  ) {
    this.#repo = repo;
    this.#info = info;
    this.#name = name;
    this.#validUntil = validUntil;
    this.#leaseMs = options.leaseMs;
    this.#now = options.now;
    this.#onMessage = options.onMessage;
  }

  /**
   * Takes a lock: clears stale leases (saying so), refuses with LOCKED when a live conflicting
   * lease exists, writes ours, and checks again for a racing writer.
   */
  static async acquire(
    repo: Repository,
    exclusive: boolean,
    operation: string,
    options: LeaseOptions = {},
  ): Promise<RepoLock> {
    const now = options.now ?? Date.now;
    const onMessage = options.onMessage ?? (() => undefined);
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    await RepoLock.#checkConflicts(repo, exclusive, undefined, now, onMessage);
    const info = {
      version: 1 as const,
      exclusive,
      operation,
      host: hostname(),
      pid: process.pid,
      user: currentUser(),
      created: new Date(now()).toISOString(),
    };
    const validUntil = now() + leaseMs;
    const name = await RepoLock.#write(repo, info, validUntil);
    const lock = new RepoLock(repo, info, name, validUntil, { now, onMessage, leaseMs });
    try {
      await RepoLock.#checkConflicts(repo, exclusive, name, now, onMessage);
    } catch (error) {
      await lock.release();
      throw error;
    }
    const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
    lock.#timer = setInterval(() => void lock.refresh(), refreshMs);
    lock.#timer.unref();
    return lock;
  }

  static async #write(
    repo: Repository,
    info: Omit<LockInfo, "expires">,
    validUntil: number,
  ): Promise<string> {
    const name = randomBytes(32).toString("hex");
    const file: LockInfo = { ...info, expires: new Date(validUntil).toISOString() };
    await repo.storage.write(
      fileKey("lock", name),
      sealJson(repo.config.aead, repo.keys.encryption, "lock", file),
    );
    return name;
  }

  static async #checkConflicts(
    repo: Repository,
    exclusive: boolean,
    own: string | undefined,
    now: () => number,
    onMessage: (m: string) => void,
  ): Promise<void> {
    for (const entry of await listLocks(repo)) {
      if (entry.name === own) continue;
      if (entry.lock === undefined) {
        throw new RepoError(
          "LOCKED",
          `Lock ${entry.name.slice(0, 12)} cannot be read (${entry.error ?? "unknown"}); if no other ferry is running on this repository, remove it with \`ferry unlock --remove-all\`.`,
        );
      }
      const stale = staleReason(entry.lock, now());
      if (stale !== undefined) {
        onMessage(`Cleared a stale lock: ${describe(entry.lock)}; ${stale}.`);
        await repo.storage.remove(fileKey("lock", entry.name)).catch((error: unknown) => {
          if (!isStorageError(error, "NOT_FOUND")) throw error;
        });
        continue;
      }
      if (exclusive || entry.lock.exclusive) {
        throw new RepoError(
          "LOCKED",
          `The repository is locked: ${describe(entry.lock)}. Wait for it to finish; if that process is gone, the lease expires on its own, or \`ferry unlock\` clears it.`,
        );
      }
    }
  }

  /**
   * Pushes the lease forward: checks that our lock file is still there, writes a new one, then
   * removes the old one. A lease that lapsed first (a sleeping laptop, a long network outage) or
   * whose file another run removed as stale is never revived: once lapsed, the lock stays lapsed
   * and {@link check} refuses, because a prune may have run meanwhile.
   */
  async refresh(): Promise<void> {
    if (this.#released || this.#lapsed !== undefined) return;
    this.#refreshing ??= (async () => {
      try {
        if (this.#now() > this.#validUntil) {
          this.#lapse(
            `its lease expired at ${new Date(this.#validUntil).toISOString()} before it could be refreshed`,
          );
          return;
        }
        try {
          await this.#repo.storage.stat(fileKey("lock", this.#name));
        } catch (error) {
          if (!isStorageError(error, "NOT_FOUND")) throw error;
          this.#lapse("another run removed it as stale");
          return;
        }
        const validUntil = this.#now() + this.#leaseMs;
        const name = await RepoLock.#write(this.#repo, this.#info, validUntil);
        const old = this.#name;
        if (this.#now() > this.#validUntil) {
          // The old lease ran out while the new file was written: someone may have judged us gone.
          await this.#repo.storage.remove(fileKey("lock", name)).catch(() => undefined);
          this.#lapse("its lease expired while it was being refreshed");
          return;
        }
        this.#name = name;
        this.#validUntil = validUntil;
        await this.#repo.storage.remove(fileKey("lock", old)).catch(() => undefined);
      } catch (error) {
        this.#onMessage(
          `Could not refresh the repository lock: ${error instanceof Error ? error.message : String(error)}`,
        );
      } finally {
        this.#refreshing = undefined;
      }
    })();
    await this.#refreshing;
  }

  #lapse(why: string): void {
    this.#lapsed = why;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#onMessage(`The repository lock lapsed: ${why}.`);
  }

  /**
   * Throws LOCKED when our lease has lapsed (refreshes failed for a whole lease, or another run
   * removed our lock as stale): nothing that depends on the lock may be written.
   */
  check(): void {
    if (this.#lapsed !== undefined || this.#now() > this.#validUntil) {
      throw new RepoError(
        "LOCKED",
        `The repository lock lapsed (${this.#lapsed ?? "it could not be refreshed in time"}); stopping without writing anything that depends on it. Run the command again.`,
      );
    }
  }

  /** Removes the lock. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#refreshing;
    await this.#repo.storage.remove(fileKey("lock", this.#name)).catch(() => undefined);
  }
}

/** Removes stale locks (or all with `all`); returns descriptions of what was removed. */
export async function unlock(
  repo: Repository,
  all: boolean,
  now: number = Date.now(),
): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await listLocks(repo)) {
    // A lock that does not decode may belong to a live run: only --remove-all removes it.
    if (entry.lock === undefined && !all) continue;
    const reason =
      entry.lock === undefined ? `unreadable: ${entry.error ?? ""}` : staleReason(entry.lock, now);
    if (!all && reason === undefined) continue;
    await repo.storage.remove(fileKey("lock", entry.name)).catch(() => undefined);
    removed.push(
      entry.lock === undefined
        ? `lock ${entry.name.slice(0, 12)} (${reason ?? ""})`
        : `${describe(entry.lock)}${reason === undefined ? "" : `; ${reason}`}`,
    );
  }
  return removed;
}
