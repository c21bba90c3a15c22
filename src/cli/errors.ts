/** Exit codes and the error types the CLI turns into them. Documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  /** The operation failed (connection, server, a failed check). */
  failed: 1,
  /** Bad usage: flags, settings, URL. */
  usage: 2,
  /** The backup was saved, but some files could not be read and are missing from it. */
  incomplete: 3,
  /** Damaged data: check found problems, or restore could not restore some files. */
  damaged: 4,
  /** There is no repository at the destination. */
  noRepository: 10,
  /** Another process holds a conflicting lock on the repository. */
  locked: 11,
  /** The password opens none of the repository's keys. */
  wrongPassword: 12,
  /** The destination is read-only and a write was refused. */
  readOnly: 13,
} as const;

/** One of the exit codes above. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in how ferry was called; printed without a stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
