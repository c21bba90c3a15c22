/**
 * One error type for every storage failure, with protocol-neutral codes, and the one policy
 * that decides what is worth retrying.
 */

/** Protocol-neutral failure codes. */
export type StorageErrorCode =
  /** The key or directory does not exist. */
  | "NOT_FOUND"
  /** The target exists and overwriting was not asked for. */
  | "EXISTS"
  /** The server refused the operation for this user (550 permission denied, SFTP EACCES). */
  | "PERMISSION"
  /** Login failed: wrong user, password, key or passphrase. */
  | "AUTH"
  /** TLS failed: handshake, untrusted or changed certificate, version bounds, session reuse. */
  | "TLS"
  /** The SSH host key is unknown or changed. */
  | "HOST_KEY"
  /** No progress within the allowed time (connect, idle transfer). */
  | "TIMEOUT"
  /** The connection could not be made or was lost (refused, reset, closed, DNS). */
  | "CONNECTION"
  /** The destination is full or over quota. */
  | "NO_SPACE"
  /** The server limits connections (421 too many connections) or rate. */
  | "LIMIT"
  /** The server said something we cannot accept (bad reply, truncated listing, short upload). */
  | "PROTOCOL"
  /** The server or this storage cannot do it (no MFMT, no free-space query, read-only). */
  | "UNSUPPORTED"
  /** The settings or the input are invalid (bad key, CR/LF in a name). */
  | "INVALID";

export interface StorageErrorOptions {
  /** Overrides the default retriability of the code (see {@link isRetriable}). */
  retriable?: boolean;
  /** The raw cause: a server reply, a Node error. */
  cause?: unknown;
  /** The key or path concerned, for messages and logs. */
  key?: string;
}

const RETRIABLE_BY_DEFAULT: ReadonlySet<StorageErrorCode> = new Set([
  "TIMEOUT",
  "CONNECTION",
  "LIMIT",
]);

/**
 * A storage failure. `message` is a sentence a person can act on: what failed, the value
 * concerned, and the fix. It never contains a secret.
 */
export class StorageError extends Error {
  override readonly name = "StorageError";
  readonly code: StorageErrorCode;
  readonly retriable: boolean;
  readonly key: string | undefined;

  constructor(code: StorageErrorCode, message: string, options: StorageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? RETRIABLE_BY_DEFAULT.has(code);
    this.key = options.key;
  }
}

/** True for a StorageError with the given code. */
export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}

/**
 * The one retriability policy: a StorageError says for itself; anything else (a bug, an abort)
 * is not retried.
 */
export function isRetriable(error: unknown): boolean {
  return error instanceof StorageError && error.retriable;
}

const NODE_CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_SOCKET_CLOSED",
]);

/**
 * Translates a Node system error (from sockets or the local filesystem) into a StorageError.
 * `what` names the action, e.g. `Reading "data/ab"`.
 */
export function fromNodeError(error: unknown, what: string, key?: string): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  const opts = { cause: error, ...(key === undefined ? {} : { key }) };
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return new StorageError("NOT_FOUND", `${what} failed: it does not exist.`, opts);
    case "EEXIST":
    case "ENOTEMPTY":
      return new StorageError("EXISTS", `${what} failed: it already exists.`, opts);
    case "EACCES":
    case "EPERM":
      return new StorageError(
        "PERMISSION",
        `${what} failed: permission denied. Check the owner and mode of the backup directory.`,
        opts,
      );
    case "EROFS":
      return new StorageError("PERMISSION", `${what} failed: the filesystem is read-only.`, opts);
    case "ENOSPC":
    case "EDQUOT":
      return new StorageError(
        "NO_SPACE",
        `${what} failed: no space left on the destination. Free space or raise the quota.`,
        opts,
      );
    case "ETIMEDOUT":
      return new StorageError("TIMEOUT", `${what} timed out (${detail}).`, opts);
    default:
      if (typeof code === "string" && NODE_CONNECTION_CODES.has(code)) {
        return new StorageError("CONNECTION", `${what} failed: ${detail}.`, opts);
      }
      return new StorageError("PROTOCOL", `${what} failed: ${detail}`, {
        ...opts,
        retriable: false,
      });
  }
}
