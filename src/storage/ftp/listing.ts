/**
 * Directory listings: MLSD where available (list=auto|mlsd), else LIST (with `-a` where dot-files
 * would be hidden), decoded with the name encoding, checked for truncation, parsed. A listing is
 * complete or an error.
 */
import { StorageError, isStorageError } from "../errors.ts";
import type { Entry } from "../storage.ts";
import { startDownload } from "./download.ts";
import { parseListing } from "./list-parsers.ts";
import { isTruncated } from "./quirks.ts";
import { quoteReply, replyError, replyOf, type FtpReply } from "./replies.ts";
import type { Session } from "./session.ts";
import { clarify } from "./stat.ts";

/** A listing larger than this is refused rather than held in memory. */
const MAX_LISTING_BYTES = 256 * 1024 * 1024;

interface Fetched {
  bytes: Buffer;
  final: FtpReply;
}

async function fetch(session: Session, line: string, what: string, key: string): Promise<Fetched> {
  let release!: () => void;
  const settled = new Promise<void>((resolve) => {
    release = resolve;
  });
  const { stream, final } = await startDownload(session, session.data, line, {
    what,
    key,
    offset: 0,
    limit: undefined,
    checkAnnounced: false,
    abortWithAbor: session.quirks.abortWithAbor,
    onSettled: () => {
      release();
    },
  });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_LISTING_BYTES) {
        stream.destroy();
        throw new StorageError(
          "PROTOCOL",
          `${what} failed: the listing is larger than ${String(MAX_LISTING_BYTES >> 20)} MiB. Keep fewer files per directory.`,
          { key, retriable: false },
        );
      }
      chunks.push(chunk);
    }
    return { bytes: Buffer.concat(chunks), final: await final };
  } finally {
    await settled; // the control connection is free only after the final reply
  }
}

/** The server does not know the command (500/502/504; 501 too for `LIST -a`'s option). */
function refusedCommand(error: unknown, codes = [500, 502, 504]): boolean {
  const reply = replyOf(error);
  return reply !== undefined && codes.includes(reply.code);
}

function parse(
  session: Session,
  fetched: Fetched,
  format: "mlsd" | "list",
  what: string,
  key: string,
): Entry[] {
  const text = session.control.codec.decode(fetched.bytes);
  const lines = text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "" && !/^total\s+\d+/i.test(line));
  if (isTruncated(fetched.final, lines.length, session.kind)) {
    throw new StorageError(
      "PROTOCOL",
      `${what} failed: listing truncated by the server after ${String(lines.length)} entries (it answered ${quoteReply(fetched.final.message)}). A listing must be complete: raise the server's limit (Pure-FTPd: -L <files>:<depth>, e.g. -L 100000:8) or keep fewer entries per directory.`,
      { key, retriable: false },
    );
  }
  return parseListing(text, format, {
    now: new Date(),
    dateFormat: session.settings.listDateFormat,
  });
}

async function listWithList(session: Session, path: string, what: string): Promise<Entry[]> {
  // Enter the directory and list it without an argument: a missing directory is a clear 550
  // here (vsftpd lists nothing for a missing path), and names starting with `-` or containing
  // spaces cannot be mistaken for LIST options.
  const cwd = await session.control.request("CWD", path);
  if (cwd.code < 200 || cwd.code >= 300) {
    const error = replyError(cwd, what, path);
    throw error.code === "PERMISSION" ? await clarify(session, error, path) : error;
  }
  if (session.listDashA) {
    try {
      return parse(session, await fetch(session, "LIST -a", what, path), "list", what, path);
    } catch (error) {
      if (
        session.settings.listHidden !== "auto" ||
        !refusedCommand(error, [500, 501, 502, 504, 550])
      ) {
        throw error;
      }
      session.listDashA = false;
      session.control.note("LIST -a refused; listing with plain LIST (dot-files may be hidden)");
    }
  }
  return parse(session, await fetch(session, "LIST", what, path), "list", what, path);
}

/** The complete listing of `path` (without `.` and `..`). */
export async function listDirectory(session: Session, path: string): Promise<Entry[]> {
  const what = `Listing "${path}"`;
  if (session.mlsd) {
    try {
      return parse(
        session,
        await fetch(session, session.control.line("MLSD", path), what, path),
        "mlsd",
        what,
        path,
      );
    } catch (error) {
      if (
        !refusedCommand(error) ||
        session.settings.list === "mlsd" ||
        isStorageError(error, "NOT_FOUND")
      ) {
        throw await clarify(session, error, path);
      }
      session.mlsd = false;
      session.control.note("MLSD refused; using LIST from now on");
    }
  }
  return listWithList(session, path, what);
}
