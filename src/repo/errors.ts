/**
 * Repository failures with codes the faces map to messages and exit codes. Storage failures pass
 * through as StorageError; everything the repository itself decides is a RepoError.
 */

/** What went wrong, independent of the destination's protocol. */
export type RepoErrorCode =
  /** No repository at the destination (no `config`, no `keys/`). */
  | "NO_REPOSITORY"
  /** `init` found a repository already there. */
  | "EXISTS"
  /** The password opens none of the repository's keys. */
  | "WRONG_PASSWORD"
  /** An object failed authentication, is truncated or does not parse. */
  | "DAMAGED"
  /** The repository was written by a newer format version. */
  | "UNSUPPORTED_VERSION"
  /** Another process holds a conflicting lock. */
  | "LOCKED"
  /** A snapshot, path or key that was asked for does not exist. */
  | "NOT_FOUND"
  /** The request itself is wrong (bad snapshot id prefix, ambiguous id, bad option). */
  | "INVALID";

/** A repository-level failure; `message` names the object concerned and the fix. */
export class RepoError extends Error {
  override readonly name = "RepoError";
  readonly code: RepoErrorCode;

  constructor(code: RepoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True for a RepoError, optionally with the given code. */
export function isRepoError(error: unknown, code?: RepoErrorCode): error is RepoError {
  return error instanceof RepoError && (code === undefined || error.code === code);
}
