/**
 * The one translation from what ssh2 reports (SFTP status codes, SSH transport and
 * authentication errors, socket errors) to a {@link StorageError}. Messages name the action,
 * the path and the fix; the raw error is kept as `cause`. No secret ever reaches a message:
 * ssh2's messages carry none, and server status texts only name paths.
 */
import { StorageError, fromNodeError, type StorageErrorCode } from "../errors.ts";

/** SFTP status codes: v3 (draft-ietf-secsh-filexfer-02) and the later ones some servers send. */
export const SFTP_STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
  INVALID_HANDLE: 9,
  NO_SUCH_PATH: 10,
  FILE_ALREADY_EXISTS: 11,
  WRITE_PROTECT: 12,
  NO_MEDIA: 13,
  NO_SPACE_ON_FILESYSTEM: 14,
  QUOTA_EXCEEDED: 15,
  DIR_NOT_EMPTY: 18,
  NOT_A_DIRECTORY: 19,
} as const;

const STATUS_NAMES = new Map<number, string>(
  Object.entries(SFTP_STATUS).map(([name, code]) => [code, name]),
);

/** `NO_SUCH_FILE` for 2; `STATUS_42` for a code this table does not know. */
export function statusName(code: number): string {
  return STATUS_NAMES.get(code) ?? `STATUS_${String(code)}`;
}

/** The numeric SFTP status of an ssh2 error, or undefined for any other error. */
export function sftpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

export interface ErrorContext {
  /** The action, e.g. `Opening "/srv/backup/x" for writing` or `Connecting to host:22`. */
  what: string;
  /** The path concerned, kept on the error as its key. */
  path?: string;
  /** How to fix a refused login, composed by the dialer (it knows the method and the user). */
  authHint?: string;
}

const NO_SPACE_TEXT = /no space|disk full|quota|insufficient (disk|storage)|ENOSPC|EDQUOT/i;

/**
 * Translates anything ssh2 can fail with into a StorageError. A StorageError passes unchanged.
 *
 * - SFTP statuses: NO_SUCH_FILE → NOT_FOUND, PERMISSION_DENIED → PERMISSION, OP_UNSUPPORTED →
 *   UNSUPPORTED, FAILURE with a "no space"/"quota" text (or the v5+ codes) → NO_SPACE, other
 *   FAILUREs → PROTOCOL (OpenSSH answers FAILURE for EEXIST, ENOSPC and more: callers that can
 *   disambiguate, e.g. mkdir with a stat, do).
 * - a session that went away (`No response from server`, NO_CONNECTION, CONNECTION_LOST,
 *   socket resets) → CONNECTION, retriable; timeouts → TIMEOUT, retriable.
 * - a refused login → AUTH; a rejected host key → HOST_KEY (the dialer words those itself).
 */
export function toStorageError(error: unknown, context: ErrorContext): StorageError {
  if (error instanceof StorageError) return error;
  const { what } = context;
  const detail = error instanceof Error ? error.message : String(error);
  const opts = {
    cause: error,
    ...(context.path === undefined ? {} : { key: context.path }),
  };
  const make = (code: StorageErrorCode, message: string, retriable?: boolean) =>
    new StorageError(code, message, retriable === undefined ? opts : { ...opts, retriable });

  const status = sftpStatus(error);
  if (status !== undefined) return fromStatus(status, detail, what, make);

  const level = (error as { level?: unknown } | null)?.level;
  switch (level) {
    case "client-authentication":
      return make(
        "AUTH",
        `${what} failed: the server refused the login.${context.authHint ? ` ${context.authHint}` : ""}`,
      );
    case "agent":
      return make(
        "AUTH",
        `${what} failed: the SSH agent could not be used (${detail}). Check that ssh-agent is running and that the agent setting or SSH_AUTH_SOCK points at its socket.`,
      );
    case "client-timeout":
      return /keepalive/i.test(detail)
        ? make(
            "CONNECTION",
            `${what} failed: the server stopped answering keepalives; the connection is considered lost.`,
          )
        : make(
            "TIMEOUT",
            `${what} timed out before the SSH handshake and login completed. Check the host and port (is it an SSH server?), or raise connectTimeout.`,
          );
    case "handshake":
      if (/host denied/i.test(detail)) {
        return make("HOST_KEY", `${what} failed: the server's host key was rejected.`);
      }
      if (/no matching/i.test(detail)) {
        const setting = /key exchange/i.test(detail)
          ? "algorithms.kex=+diffie-hellman-group14-sha1"
          : /host key/i.test(detail)
            ? "algorithms.serverHostKey=+ssh-rsa"
            : /mac/i.test(detail)
              ? "algorithms.hmac=+hmac-sha1"
              : "algorithms.cipher=+aes128-cbc";
        return make(
          "PROTOCOL",
          `${what} failed: ${detail}. The server and ferry share no algorithm of that kind: allow one the server offers with the algorithms setting, e.g. ${setting} (older, weaker algorithms: only for old servers).`,
          false,
        );
      }
      return make("PROTOCOL", `${what} failed during the SSH handshake: ${detail}.`, false);
    case "protocol":
      return make(
        "CONNECTION",
        `${what} failed: the connection was closed before the SSH handshake (${detail}). The server may limit connections (MaxStartups) or not be an SSH server.`,
      );
    case "sftp-protocol":
      return make(
        "PROTOCOL",
        `${what} failed: the server broke the SFTP protocol (${detail}).`,
        false,
      );
    case "client-dns":
      return make("CONNECTION", `${what} failed: ${detail}. Check the host name.`);
    default:
      break;
  }
  if (typeof (error as { code?: unknown } | null)?.code === "string") {
    return fromNodeError(error, what, context.path);
  }
  if (
    /no response from server|not connected|channel (open failure|closed)|connection lost/i.test(
      detail,
    )
  ) {
    return make(
      "CONNECTION",
      `${what} failed: the SSH connection was lost (${detail}). The operation can be retried on a new connection.`,
    );
  }
  if (/does not support/i.test(detail)) {
    return make("UNSUPPORTED", `${what} failed: the server does not support it (${detail}).`);
  }
  if (/timed? ?out/i.test(detail)) return make("TIMEOUT", `${what} timed out (${detail}).`);
  return make("PROTOCOL", `${what} failed: ${detail}`, false);
}

function fromStatus(
  status: number,
  detail: string,
  what: string,
  make: (code: StorageErrorCode, message: string, retriable?: boolean) => StorageError,
): StorageError {
  const said = `(server: ${statusName(status)} "${detail}")`;
  switch (status) {
    case SFTP_STATUS.NO_SUCH_FILE:
    case SFTP_STATUS.NO_SUCH_PATH:
    case SFTP_STATUS.NOT_A_DIRECTORY:
      return make("NOT_FOUND", `${what} failed: it does not exist ${said}.`);
    case SFTP_STATUS.PERMISSION_DENIED:
    case SFTP_STATUS.WRITE_PROTECT:
      return make(
        "PERMISSION",
        `${what} failed: permission denied ${said}. Check the owner and mode of the backup directory on the server, or choose a path this user may write to.`,
      );
    case SFTP_STATUS.FILE_ALREADY_EXISTS:
    case SFTP_STATUS.DIR_NOT_EMPTY:
      return make("EXISTS", `${what} failed: it already exists ${said}.`);
    case SFTP_STATUS.NO_SPACE_ON_FILESYSTEM:
    case SFTP_STATUS.QUOTA_EXCEEDED:
      return noSpace(what, said, make);
    case SFTP_STATUS.OP_UNSUPPORTED:
      return make(
        "UNSUPPORTED",
        `${what} failed: the server does not support this operation ${said}.`,
      );
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return make("CONNECTION", `${what} failed: the SSH connection was lost ${said}.`);
    case SFTP_STATUS.FAILURE:
      if (NO_SPACE_TEXT.test(detail)) return noSpace(what, said, make);
      return make(
        "PROTOCOL",
        `${what} failed: the server reported a failure without saying why ${said}.`,
        false,
      );
    default:
      return make("PROTOCOL", `${what} failed ${said}.`, false);
  }
}

function noSpace(
  what: string,
  said: string,
  make: (code: StorageErrorCode, message: string) => StorageError,
): StorageError {
  return make(
    "NO_SPACE",
    `${what} failed: no space left on the server or the quota is exhausted ${said}. Free space or raise the quota.`,
  );
}
