/**
 * The thin per-connection tier under {@link FileStorage}: one logged-in connection of one
 * protocol (local filesystem, memory, FTP, SFTP), speaking absolute protocol paths.
 *
 * Adapters implement only this; the shared tier (file-storage.ts) owns key-to-path mapping,
 * temp-then-rename atomicity, size verification, recursive mkdir and overwrite semantics, and
 * the pool (pool.ts) owns connection reuse and limits. Every method rejects with a StorageError.
 */
import type { Readable } from "node:stream";
import type { Entry, FreeSpace, ServerInfo } from "./storage.ts";

/** What one connection of this protocol supports; the shared tier turns it into Capabilities. */
export interface ProtocolFeatures {
  /** rename() replaces an existing target in one step (posix-rename, local rename, most FTP). */
  atomicReplace: boolean;
  /** setMtime() works. */
  setMtime: boolean;
  /** freeSpace() can return a figure. */
  freeSpace: boolean;
  /** read() honours an offset without transferring the skipped bytes (REST, SFTP offsets). */
  rangedRead: boolean;
  /** Entries after which the server truncates a listing, when known. */
  listLimit?: number;
}

/** What a real filesystem (local, memory) offers: everything. */
export const FILESYSTEM_FEATURES: ProtocolFeatures = {
  atomicReplace: true,
  setMtime: true,
  freeSpace: true,
  rangedRead: true,
};

export interface ProtocolConnection {
  /** Small number naming this connection in the protocol log. */
  readonly id: number;
  readonly features: ProtocolFeatures;
  /**
   * Absolute protocol path of the backup directory (login directory + `path` setting). It may
   * not exist yet: the shared tier creates it before the first write.
   */
  readonly root: string;

  /** NOT_FOUND when absent. `name` is the path's base name. */
  stat(path: string): Promise<Entry>;
  /** Complete listing of a directory, without `.` and `..`; PROTOCOL on truncation. */
  list(path: string): AsyncIterable<Entry>;
  /**
   * Opens a download from `offset` for at most `length` bytes. The connection is busy until the
   * returned stream ends or is destroyed; destroying it early aborts the transfer.
   */
  read(path: string, offset: number, length?: number): Promise<Readable>;
  /** Uploads `source` to `path` (created or truncated). Resolves with the bytes sent. */
  write(path: string, source: Readable): Promise<number>;
  remove(path: string): Promise<void>;
  removeDir(path: string): Promise<void>;
  /** Renames; may reject with EXISTS (or PERMISSION on some servers) when `to` exists. */
  rename(from: string, to: string): Promise<void>;
  /** Creates one directory level; EXISTS when it is already there. */
  mkdir(path: string): Promise<void>;
  setMtime(path: string, mtime: Date): Promise<void>;
  freeSpace(path: string): Promise<FreeSpace | undefined>;
  info(): ServerInfo;
  /** Cheap liveness check before reuse (FTP NOOP, SSH keepalive); false means redial. */
  alive(): Promise<boolean>;
  /** Closes the connection; idempotent, never rejects. */
  close(): Promise<void>;
}

/** Opens connections of one protocol for one destination. */
export interface Dialer {
  /** Protocol name, for messages. */
  readonly protocol: string;
  /** A new logged-in connection, with `root` resolved. */
  dial(): Promise<ProtocolConnection>;
}
