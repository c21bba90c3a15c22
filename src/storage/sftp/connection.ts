/**
 * One logged-in SSH connection with its one SFTP channel, as a {@link ProtocolConnection}.
 * OpenSSH allows 10 channels per connection (MaxSessions) and a leaked channel ends in
 * "Channel open failure" (ssh2#1190), so every request of this connection reuses the channel
 * opened at dial time; only `df` opens a short-lived exec channel.
 */
import type { Readable } from "node:stream";
import type { Client, FileEntry, Stats } from "ssh2";
import { StorageError, isStorageError } from "../errors.ts";
import { baseName } from "../keys.ts";
import type { ProtocolConnection, ProtocolFeatures } from "../protocol.ts";
import type { Entry, FreeSpace, ServerInfo } from "../storage.ts";
import { describe, toEntry } from "./entries.ts";
import { dfFreeSpace, statvfsFreeSpace } from "./free-space.ts";
import type { SftpSession, TransferTuning } from "./session.ts";
import { SFTP_STATUS, sftpStatus } from "./status.ts";
import { SftpReadStream } from "./download.ts";
import { writeAll } from "./upload.ts";

export interface SftpConnectionParts {
  session: SftpSession;
  client: Client;
  root: string;
  extensions: Readonly<Record<string, string>>;
  info: ServerInfo;
  read: TransferTuning;
  write: TransferTuning;
  /** Closes the client and resolves once the socket is closed; idempotent. */
  close: () => Promise<void>;
}

export class SftpConnection implements ProtocolConnection {
  readonly id: number;
  readonly features: ProtocolFeatures;
  readonly root: string;
  readonly #parts: SftpConnectionParts;
  readonly #session: SftpSession;
  #dfWorks = true;

  constructor(parts: SftpConnectionParts) {
    this.#parts = parts;
    this.#session = parts.session;
    this.id = parts.session.id;
    this.root = parts.root;
    this.features = {
      atomicReplace: "posix-rename@openssh.com" in parts.extensions,
      // SETSTAT is SFTP v3; servers that deny it get UNSUPPORTED/PERMISSION per call.
      setMtime: true,
      freeSpace: "statvfs@openssh.com" in parts.extensions,
      rangedRead: true,
    };
  }

  stat(path: string): Promise<Entry> {
    const s = this.#session;
    return s
      .request<Stats>(
        `LSTAT ${path}`,
        { what: `Reading the metadata of "${path}"`, path },
        (callback) => {
          s.sftp.lstat(path, callback);
        },
        (attrs) => `ATTRS ${describe(attrs)}`,
      )
      .then((attrs) => toEntry(baseName(path), attrs));
  }

  async *list(path: string): AsyncIterable<Entry> {
    const s = this.#session;
    const what = `Listing "${path}"`;
    const handle = await s.request<Buffer>(
      `OPENDIR ${path}`,
      { what, path },
      (callback) => {
        s.sftp.opendir(path, callback);
      },
      () => "HANDLE",
    );
    try {
      for (;;) {
        const batch = await s.request<FileEntry[] | false>(
          `READDIR ${path}`,
          { what, path },
          (callback) => {
            s.sftp.readdir(handle, (error, list) => {
              // EOF ends the listing; ssh2 reports it as an error with status 1.
              if (error && sftpStatus(error) === SFTP_STATUS.EOF) callback(undefined, false);
              else callback(error, list);
            });
          },
          (list) => (list === false ? "STATUS EOF" : `NAME ${String(list.length)} entries`),
        );
        if (batch === false) break;
        for (const item of batch) {
          if (item.filename === "." || item.filename === "..") continue;
          yield { ...toEntry(item.filename, item.attrs), raw: item.longname };
        }
      }
    } finally {
      // A failed CLOSE after a complete (or abandoned) listing must not hide the outcome.
      await this.#closeHandle(handle, path).catch(() => undefined);
    }
  }

  async read(path: string, offset: number, length?: number): Promise<Readable> {
    const handle = await this.#open(path, "r", "reading");
    this.#session.log.write(
      this.id,
      "*",
      `READ ${path} from ${String(offset)}${length === undefined ? "" : ` for ${String(length)} bytes`}: ${String(this.#parts.read.inFlight)} × ${String(this.#parts.read.chunkSize)} bytes in flight`,
    );
    return new SftpReadStream(this.#session, handle, path, offset, length, this.#parts.read);
  }

  async write(path: string, source: Readable): Promise<number> {
    let handle: Buffer;
    try {
      handle = await this.#open(path, "w", "writing");
    } catch (error) {
      source.destroy();
      throw error;
    }
    let written: number;
    try {
      written = await writeAll(this.#session, handle, path, source, this.#parts.write);
    } catch (error) {
      await this.#closeHandle(handle, path).catch(() => undefined);
      throw await this.#disambiguateFailure(error);
    }
    // Some servers report a failed write (quota, disk full) only when the handle is closed.
    await this.#closeHandle(handle, path).catch(async (error: unknown) => {
      throw await this.#disambiguateFailure(error);
    });
    return written;
  }

  remove(path: string): Promise<void> {
    const s = this.#session;
    return s.request(`REMOVE ${path}`, { what: `Removing "${path}"`, path }, (callback) => {
      s.sftp.unlink(path, (error) => {
        callback(error, undefined);
      });
    });
  }

  removeDir(path: string): Promise<void> {
    const s = this.#session;
    return s.request(
      `RMDIR ${path}`,
      { what: `Removing the directory "${path}"`, path },
      (callback) => {
        s.sftp.rmdir(path, (error) => {
          callback(error, undefined);
        });
      },
    );
  }

  async rename(from: string, to: string): Promise<void> {
    const s = this.#session;
    const posix = this.features.atomicReplace;
    const context = { what: `Renaming "${from}" to "${to}"`, path: from };
    try {
      await s.request(`${posix ? "POSIX-RENAME" : "RENAME"} ${from} ${to}`, context, (callback) => {
        const done = (error: Error | null | undefined) => {
          callback(error, undefined);
        };
        if (posix) s.sftp.ext_openssh_rename(from, to, done);
        else s.sftp.rename(from, to, done);
      });
    } catch (error) {
      // Plain SFTP rename onto an existing file is a bare FAILURE on OpenSSH: say what it was.
      if (!isStorageError(error) || sftpStatus(error.cause) !== SFTP_STATUS.FAILURE) throw error;
      if (await this.#exists(to)) {
        throw new StorageError(
          "EXISTS",
          `${context.what} failed: the target exists and this server cannot replace it in one step.`,
          { cause: error, key: to },
        );
      }
      throw error;
    }
  }

  async mkdir(path: string): Promise<void> {
    const s = this.#session;
    try {
      await s.request(
        `MKDIR ${path}`,
        { what: `Creating the directory "${path}"`, path },
        (callback) => {
          s.sftp.mkdir(path, (error) => {
            callback(error, undefined);
          });
        },
      );
    } catch (error) {
      // OpenSSH answers a bare FAILURE for EEXIST; a stat tells whether something is there.
      if (!isStorageError(error) || sftpStatus(error.cause) !== SFTP_STATUS.FAILURE) throw error;
      if (await this.#exists(path)) {
        throw new StorageError(
          "EXISTS",
          `Creating the directory "${path}" failed: it already exists.`,
          { cause: error, key: path },
        );
      }
      throw error;
    }
  }

  async setMtime(path: string, mtime: Date): Promise<void> {
    const s = this.#session;
    const seconds = Math.floor(mtime.getTime() / 1000);
    try {
      // SFTP v3 sets atime and mtime together; atime gets the same value.
      await s.request(
        `SETSTAT ${path} mtime=${mtime.toISOString()}`,
        { what: `Setting the modification time of "${path}"`, path },
        (callback) => {
          s.sftp.setstat(path, { atime: seconds, mtime: seconds }, (error) => {
            callback(error, undefined);
          });
        },
      );
    } catch (error) {
      if (isStorageError(error, "PROTOCOL")) {
        // A FAILURE here means the server will not set times (some do not allow SETSTAT at all).
        throw new StorageError(
          "UNSUPPORTED",
          `Setting the modification time of "${path}" failed: the server refused SETSTAT (${error.message}).`,
          { cause: error, key: path },
        );
      }
      throw error;
    }
  }

  async freeSpace(path: string): Promise<FreeSpace | undefined> {
    if (this.features.freeSpace) return statvfsFreeSpace(this.#session, path);
    return this.dfFreeSpace(path);
  }

  /**
   * Free space by `df -Pk` on an exec channel: what {@link freeSpace} falls back to without
   * statvfs@openssh.com. Undefined (and not tried again) when the account has no shell.
   */
  async dfFreeSpace(path: string): Promise<FreeSpace | undefined> {
    if (!this.#dfWorks) return undefined;
    const timeoutMs = Math.min(this.#session.idleTimeoutMs, 10_000);
    const result = await dfFreeSpace(this.#parts.client, this.#session, path, timeoutMs);
    if (result === undefined) this.#dfWorks = false;
    return result;
  }

  info(): ServerInfo {
    return { ...this.#parts.info, root: this.root };
  }

  async alive(): Promise<boolean> {
    if (this.#session.lost !== undefined) return false;
    const s = this.#session;
    try {
      await s.request<string>(
        "REALPATH .",
        { what: "Checking the connection" },
        (callback) => {
          s.sftp.realpath(".", callback);
        },
        (resolved) => `NAME ${resolved}`,
        Math.min(s.idleTimeoutMs, 10_000),
      );
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.#parts.close();
  }

  #open(path: string, flags: "r" | "w", purpose: string): Promise<Buffer> {
    const s = this.#session;
    return s.request<Buffer>(
      `OPEN ${path} ${flags === "r" ? "read" : "write,create,truncate"}`,
      { what: `Opening "${path}" for ${purpose}`, path },
      (callback) => {
        s.sftp.open(path, flags, callback);
      },
      () => "HANDLE",
    );
  }

  async #closeHandle(handle: Buffer, path: string): Promise<void> {
    if (this.#session.lost !== undefined) return;
    const s = this.#session;
    await s.request(`CLOSE ${path}`, { what: `Closing "${path}"`, path }, (callback) => {
      s.sftp.close(handle, (error) => {
        callback(error, undefined);
      });
    });
  }

  async #exists(path: string): Promise<boolean> {
    return this.stat(path).then(
      () => true,
      () => false,
    );
  }

  /** OpenSSH reports ENOSPC/EDQUOT as a bare FAILURE: statvfs tells a full disk apart. */
  async #disambiguateFailure(error: unknown): Promise<unknown> {
    if (
      !isStorageError(error) ||
      sftpStatus(error.cause) !== SFTP_STATUS.FAILURE ||
      !this.features.freeSpace
    )
      return error;
    const space = await statvfsFreeSpace(this.#session, this.root).catch(() => undefined);
    if (space !== undefined && space.available < 1024 * 1024) {
      return new StorageError(
        "NO_SPACE",
        `${error.message.replace(/\.$/, "")}: the server's disk is full (${String(space.available)} bytes free). Free space on the server.`,
        { cause: error, ...(error.key === undefined ? {} : { key: error.key }) },
      );
    }
    return error;
  }
}
