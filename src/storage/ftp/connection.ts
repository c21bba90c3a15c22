/**
 * One logged-in FTP/FTPS connection as a ProtocolConnection. Operations run one at a time (FTP
 * has one control stream); a read holds the connection until its stream ends. Every path is
 * checked for CR/LF/NUL before anything is sent, and every failure leaves as a StorageError.
 */
import { Readable } from "node:stream";
import { StorageError } from "../errors.ts";
import type { ProtocolConnection, ProtocolFeatures } from "../protocol.ts";
import type { Entry, FreeSpace, ServerInfo } from "../storage.ts";
import { freeSpaceOf, makeDirectory, removeDirectory, removeFile, renamePath } from "./changes.ts";
import { startDownload } from "./download.ts";
import { listDirectory } from "./listing.ts";
import { setMtime } from "./mtime.ts";
import { checkPath } from "./paths.ts";
import { replyOf, translateFtpError } from "./replies.ts";
import { Serial } from "./serial.ts";
import type { Session } from "./session.ts";
import { clarify, parentOf, sizeIfFile, statPath } from "./stat.ts";
import { upload } from "./upload.ts";

/** How long alive() waits for the NOOP reply. */
const ALIVE_TIMEOUT_MS = 5_000;

function timeout(ms: number): Promise<undefined> {
  return new Promise((resolve) => {
    setTimeout(() => {
      resolve(undefined);
    }, ms).unref();
  });
}

export class FtpConnection implements ProtocolConnection {
  readonly id: number;
  readonly features: ProtocolFeatures;
  readonly root: string;
  readonly #session: Session;
  readonly #serial = new Serial();
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(session: Session, features: ProtocolFeatures) {
    this.#session = session;
    this.id = session.id;
    this.root = session.root;
    this.features = features;
    this.#armKeepAlive();
  }

  #acquire(): Promise<() => void> {
    clearTimeout(this.#idleTimer);
    return this.#serial.acquire(() => {
      this.#armKeepAlive();
    });
  }

  /** Whether close() was called (a method, so a check after an await is not narrowed away). */
  #isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Checks the paths (INVALID before anything is sent), refuses changes on a read-only
   * destination, then runs `task` alone on the connection; failures become StorageErrors.
   */
  async #run<T>(
    what: string,
    paths: string[],
    change: boolean,
    task: () => Promise<T>,
  ): Promise<T> {
    const key = paths[0] ?? "";
    for (const path of paths) checkPath(path, what);
    if (change && this.#session.settings.readOnly) {
      throw new StorageError("UNSUPPORTED", `${what} refused: the destination is read-only.`, {
        key,
      });
    }
    const release = await this.#acquire();
    try {
      if (this.#isClosed()) {
        throw new StorageError("CONNECTION", `${what} failed: the connection is closed.`, { key });
      }
      return await task();
    } catch (error) {
      throw translateFtpError(error, what, key);
    } finally {
      release();
    }
  }

  /** While idle, a NOOP every `keepAlive` seconds keeps NATs and server idle timers happy. */
  #armKeepAlive(): void {
    clearTimeout(this.#idleTimer);
    const ms = this.#session.keepAliveMs;
    if (ms <= 0 || this.#closed || this.#serial.busy > 0) return;
    this.#idleTimer = setTimeout(() => {
      void this.alive();
    }, ms);
    this.#idleTimer.unref();
  }

  async stat(path: string): Promise<Entry> {
    const what = `Reading the metadata of "${path}"`;
    return await this.#run(what, [path], false, () => statPath(this.#session, path));
  }

  async *list(path: string): AsyncIterable<Entry> {
    const what = `Listing "${path}"`;
    yield* await this.#run(what, [path], false, () => listDirectory(this.#session, path));
  }

  async read(path: string, offset: number, length?: number): Promise<Readable> {
    const what = `Reading "${path}"`;
    const session = this.#session;
    checkPath(path, what);
    if (length === 0) {
      await this.stat(path);
      return Readable.from([]);
    }
    // Without REST (ASCII mode, or a server that does not offer it) the transfer starts at 0
    // and the first `offset` bytes are dropped here: REST would be refused or, worse, honoured
    // with a different meaning (ASCII offsets).
    const rest = this.features.rangedRead ? offset : 0;
    const release = await this.#acquire();
    try {
      if (this.#isClosed()) {
        throw new StorageError("CONNECTION", `${what} failed: the connection is closed.`, {
          key: path,
        });
      }
      const { stream } = await startDownload(
        session,
        session.data,
        session.control.line("RETR", path),
        {
          what,
          key: path,
          offset: rest,
          skip: offset - rest,
          limit: length,
          checkAnnounced: session.settings.transferType === "binary",
          abortWithAbor: session.quirks.abortWithAbor,
          onSettled: release,
        },
      );
      return stream;
    } catch (error) {
      // Reading from past the end: ProFTPD and Pure-FTPd refuse the offset (554); the
      // contract says a shorter object yields fewer bytes.
      const size =
        rest > 0 && replyOf(error)?.code === 554 ? await sizeIfFile(session, path) : undefined;
      const clear = size === undefined ? await clarify(session, error, path) : error;
      release();
      if (size !== undefined && size <= offset) return Readable.from([]);
      throw translateFtpError(clear, what, path);
    }
  }

  async write(path: string, source: Readable): Promise<number> {
    const what = `Uploading "${path}"`;
    const session = this.#session;
    try {
      return await this.#run(what, [path], true, async () => {
        const line = session.control.line("STOR", path);
        try {
          return await upload(session, session.data, line, source, what, path);
        } catch (error) {
          // 553 "Could not create file" (vsftpd) is also what a missing directory gets.
          throw await clarify(session, error, parentOf(path));
        }
      });
    } finally {
      source.destroy(); // consumed, or refused before a byte was read: never leak it
    }
  }

  async remove(path: string): Promise<void> {
    const what = `Deleting "${path}"`;
    await this.#run(what, [path], true, () => removeFile(this.#session, path, what));
  }

  async removeDir(path: string): Promise<void> {
    const what = `Removing the directory "${path}"`;
    await this.#run(what, [path], true, () => removeDirectory(this.#session, path, what));
  }

  async rename(from: string, to: string): Promise<void> {
    const what = `Renaming "${from}" to "${to}"`;
    await this.#run(what, [from, to], true, () => renamePath(this.#session, from, to, what));
  }

  async mkdir(path: string): Promise<void> {
    const what = `Creating the directory "${path}"`;
    await this.#run(what, [path], true, () => makeDirectory(this.#session, path, what));
  }

  async setMtime(path: string, mtime: Date): Promise<void> {
    const what = `Setting the modification time of "${path}"`;
    const session = this.#session;
    await this.#run(what, [path], true, async () => {
      try {
        await setMtime(session.control, session.mtimeMethods, path, mtime);
      } catch (error) {
        throw await clarify(session, error, path);
      }
    });
  }

  async freeSpace(path: string): Promise<FreeSpace | undefined> {
    const what = `Asking for the free space of "${path}"`;
    return await this.#run(what, [path], false, () => freeSpaceOf(this.#session, path));
  }

  info(): ServerInfo {
    const { info, data } = this.#session;
    if (info.tls === undefined || data.lastSessionReused === undefined) return { ...info };
    return { ...info, tls: { ...info.tls, sessionReused: data.lastSessionReused } };
  }

  async alive(): Promise<boolean> {
    const session = this.#session;
    if (this.#closed || session.dead !== undefined || session.control.closed) return false;
    const release = await this.#acquire();
    try {
      if (this.#isClosed()) return false;
      const noop = session.control.request("NOOP").catch(() => undefined);
      const reply = await Promise.race([noop, timeout(ALIVE_TIMEOUT_MS)]);
      if (reply?.code === 200) return true;
      session.kill(reply === undefined ? "no answer to NOOP" : `NOOP answered ${reply.message}`);
      return false;
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const control = this.#session.control;
    if (this.#serial.busy === 0 && !control.closed) {
      await Promise.race([control.request("QUIT").catch(() => undefined), timeout(2_000)]);
    }
    control.close();
  }
}
