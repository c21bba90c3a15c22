/**
 * stat: MLST where the server has it, else SIZE + MDTM for files and a CWD probe for
 * directories (vsftpd). Also the probes that tell an ambiguous `550` apart.
 */
import { StorageError } from "../errors.ts";
import type { Entry } from "../storage.ts";
import { parseMlsdLine } from "./list-parsers.ts";
import { readMtime } from "./mtime.ts";
import { baseName } from "./paths.ts";
import {
  FtpReplyError,
  classify550,
  quoteReply,
  replyError,
  replyOf,
  type FtpReply,
} from "./replies.ts";
import type { Session } from "./session.ts";

/** The directory part of an absolute path (`/` for top-level names). */
export function parentOf(path: string): string {
  return path.slice(0, Math.max(1, path.lastIndexOf("/")));
}

/** The size of `path` when it is a file, else undefined (never throws). */
export async function sizeIfFile(session: Session, path: string): Promise<number | undefined> {
  try {
    const entry = await statPath(session, path);
    return entry.type === "file" ? entry.size : undefined;
  } catch {
    return undefined;
  }
}

/** NOT_FOUND, with the reply that showed it (when there is one) as the cause. */
export function notFound(what: string, path: string, reply?: FtpReply): StorageError {
  const said = reply === undefined ? "" : ` (the server answered ${quoteReply(reply.message)})`;
  return new StorageError("NOT_FOUND", `${what} failed: it does not exist${said}.`, {
    key: path,
    ...(reply === undefined ? {} : { cause: new FtpReplyError(reply) }),
  });
}

/** The file size from SIZE (binary mode: some servers refuse SIZE in ASCII mode). */
export async function sizeOf(session: Session, path: string): Promise<FtpReply> {
  const ascii = session.settings.transferType === "ascii";
  if (ascii) await session.control.expect("TYPE", "I", "Switching to binary mode");
  try {
    return await session.control.request("SIZE", path);
  } finally {
    if (ascii) await session.control.expect("TYPE", "A", "Switching back to ASCII mode");
  }
}

/** Whether `path` is a directory we can enter (CWD). */
export async function isDirectory(session: Session, path: string): Promise<boolean> {
  const reply = await session.control.request("CWD", path);
  return reply.code >= 200 && reply.code < 300;
}

async function statMlst(session: Session, path: string, what: string): Promise<Entry | undefined> {
  const reply = await session.control.request("MLST", path);
  if (reply.code === 250) {
    const factLine = reply.message.split("\n").find((line) => line.startsWith(" "));
    const entry = factLine === undefined ? undefined : parseMlsdLine(factLine.slice(1));
    if (entry !== undefined) return { ...entry, name: baseName(path), raw: factLine ?? "" };
  }
  if (reply.code === 550 || reply.code === 501) {
    if (classify550(reply.message) === "PERMISSION") throw replyError(reply, what, path);
    throw notFound(what, path, reply);
  }
  if (reply.code === 500 || reply.code === 502) {
    session.mlst = false;
    session.control.note("MLST refused; using SIZE/MDTM/CWD for stat from now on");
    return undefined;
  }
  throw replyError(reply, what, path);
}

/** Metadata of one path; NOT_FOUND when nothing is there. */
export async function statPath(session: Session, path: string): Promise<Entry> {
  const what = `Reading the metadata of "${path}"`;
  if (session.mlst) {
    const entry = await statMlst(session, path, what);
    if (entry !== undefined) return entry;
  }
  const size = await sizeOf(session, path);
  if (size.code === 213) {
    const bytes = Number(size.message.slice(4).trim().split(/\s/)[0]);
    const mtime = await readMtime(session.control, path);
    return {
      name: baseName(path),
      type: "file",
      size: Number.isFinite(bytes) ? bytes : 0,
      ...(mtime === undefined ? {} : { mtime }),
    };
  }
  if (await isDirectory(session, path)) return { name: baseName(path), type: "directory", size: 0 };
  if (size.code >= 500 && size.code !== 550 && size.code !== 501) {
    // SIZE itself unsupported (502): a file we cannot size is still a file if MDTM knows it.
    const mtime = await readMtime(session.control, path);
    if (mtime !== undefined) return { name: baseName(path), type: "file", size: 0, mtime };
  }
  throw notFound(what, path, size);
}

/** True when `path` exists (NOT_FOUND → false, other failures propagate). */
export async function exists(session: Session, path: string): Promise<boolean> {
  try {
    await statPath(session, path);
    return true;
  } catch (error) {
    if (error instanceof StorageError && error.code === "NOT_FOUND") return false;
    throw error;
  }
}

/**
 * vsftpd and others answer a bare `550 … failed.` for a missing file and a refusal alike. When
 * `error` is such an ambiguous refusal, look: NOT_FOUND if `path` is not there, else `error`.
 */
export async function clarify(session: Session, error: unknown, path: string): Promise<unknown> {
  const reply = replyOf(error);
  if (
    reply === undefined ||
    ![450, 550, 553].includes(reply.code) ||
    classify550(reply.message) !== undefined
  ) {
    return error;
  }
  const what = error instanceof Error ? error.message.replace(/ failed:.*$/s, "") : "The operation";
  try {
    return (await exists(session, path)) ? error : notFound(what, path, reply);
  } catch {
    return error;
  }
}
