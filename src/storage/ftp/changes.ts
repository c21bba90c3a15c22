/**
 * The commands that change the server's tree — DELE, RMD, RNFR/RNTO, MKD — and AVBL. Servers
 * answer `550` for very different failures, so an unclear refusal is followed by a look
 * (stat, listing) to tell missing, existing and refused apart.
 */
import { StorageError } from "../errors.ts";
import type { FreeSpace } from "../storage.ts";
import { listDirectory } from "./listing.ts";
import { parseAvbl } from "./quirks.ts";
import { classify550, replyError, replyOf } from "./replies.ts";
import type { Session } from "./session.ts";
import { clarify, exists, parentOf } from "./stat.ts";

/** DELE; NOT_FOUND when absent. */
export async function removeFile(session: Session, path: string, what: string): Promise<void> {
  const reply = await session.control.request("DELE", path);
  if (reply.code >= 300) throw await clarify(session, replyError(reply, what, path), path);
}

/** RMD; NOT_FOUND when absent, EXISTS when not empty. */
export async function removeDirectory(session: Session, path: string, what: string): Promise<void> {
  const reply = await session.control.request("RMD", path);
  if (reply.code < 300) return;
  const error = await clarify(session, replyError(reply, what, path), path);
  if (
    error instanceof StorageError &&
    error.code !== "NOT_FOUND" &&
    classify550(reply.message) === undefined
  ) {
    const entries = await listDirectory(session, path).catch(() => []);
    if (entries.length > 0) {
      throw new StorageError(
        "EXISTS",
        `${what} failed: it is not empty (${String(entries.length)} entries).`,
        { key: path, cause: error.cause },
      );
    }
  }
  throw error;
}

/** RNFR + RNTO; NOT_FOUND when `from` is absent, EXISTS when the server keeps `to`. */
export async function renamePath(
  session: Session,
  from: string,
  to: string,
  what: string,
): Promise<void> {
  const rnfr = await session.control.request("RNFR", from);
  if (rnfr.code !== 350) throw await clarify(session, replyError(rnfr, what, from), from);
  const rnto = await session.control.request("RNTO", to);
  if (rnto.code < 300) return;
  const error = replyError(rnto, what, to);
  if (replyOf(error)?.code === 550 && (await exists(session, to))) {
    throw new StorageError(
      "EXISTS",
      `${what} failed: the target exists and the server will not replace it.`,
      { key: to, cause: error.cause },
    );
  }
  throw await clarify(session, error, parentOf(to));
}

/** MKD; EXISTS when present, NOT_FOUND when the parent is missing. */
export async function makeDirectory(session: Session, path: string, what: string): Promise<void> {
  const reply = await session.control.request("MKD", path);
  if (reply.code < 300) return;
  const error = replyError(reply, what, path);
  if (error.code === "EXISTS" || error.code === "NOT_FOUND") throw error;
  // vsftpd answers `550 Create directory operation failed.` to both: look.
  if (await exists(session, path)) {
    throw new StorageError("EXISTS", `${what} failed: it already exists.`, {
      key: path,
      cause: error.cause,
    });
  }
  throw await clarify(session, error, parentOf(path));
}

/**
 * Free space from `AVBL` (draft-peterson-streamlined-ftp-command-extensions), tried once per
 * connection; undefined where the server has no such command. SITE QUOTA / STAT output is not
 * parsed: no format is common enough to trust.
 */
export async function freeSpaceOf(session: Session, path: string): Promise<FreeSpace | undefined> {
  if (session.avbl === false) return undefined;
  const reply = await session.control.request("AVBL", path);
  const available = parseAvbl(reply);
  session.avbl = available !== undefined;
  return available === undefined ? undefined : { available, source: "AVBL" };
}
