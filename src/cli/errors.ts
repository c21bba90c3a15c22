/** Exit codes and the error types the CLI turns into them. Documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  /** The operation failed (connection, server, a failed check). */
  failed: 1,
  /** Bad usage: flags, settings, URL. */
  usage: 2,
} as const;

/** A mistake in how ferry was called; printed without a stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
