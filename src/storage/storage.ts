/**
 * The Storage interface: the one contract between ferry's upper layers and a destination.
 *
 * Paths are *keys*: relative to the destination's backup directory, `/`-separated, without
 * `.` or `..` segments, empty segments, NUL, CR or LF (see {@link checkKey}). The empty key `""`
 * names the backup directory itself. Adapters map keys to protocol paths; callers never see
 * protocol paths.
 *
 * Every method rejects with a {@link StorageError} (see errors.ts) and never with anything else.
 */
import type { Readable } from "node:stream";

/** What kind of thing an entry is. `other` covers devices, sockets and anything unparseable. */
export type EntryType = "file" | "directory" | "symlink" | "other";

/** One object or directory, as `stat` and `list` report it. */
export interface Entry {
  /** Base name (for `list`) or the key itself (for `stat`). */
  name: string;
  type: EntryType;
  /** Size in bytes; 0 for directories and where the server does not say. */
  size: number;
  /** Modification time, when the protocol reports one with at least one-minute precision. */
  mtime?: Date;
  /** The raw protocol line the entry was parsed from (FTP LIST/MLSD), for diagnostics. */
  raw?: string;
  /** A temporary object of an upload that never finished (listed only when asked for). */
  temporary?: boolean;
}

/** Options of `list`. */
export interface ListOptions {
  /**
   * Also list temporary objects left by uploads that never finished (a killed process), marked
   * `temporary`, so a caller that knows no upload is running (prune, under its exclusive lock)
   * can remove them with `remove(key, { temporary: true })`.
   */
  temporary?: boolean;
}

/** Options of `remove`. */
export interface RemoveOptions {
  /** The key names a temporary object listed with `{ temporary: true }`. */
  temporary?: boolean;
}

/**
 * A body to upload. Bytes are uploaded as they are. A factory is called once per attempt, so
 * a retried upload reads its source again from the start; `size` (when known) is checked
 * against the uploaded size.
 */
export type Body = Uint8Array | { open: () => Readable; size?: number };

export interface ReadOptions {
  /** First byte to read [0]. */
  offset?: number;
  /** How many bytes to read [to the end]. A shorter object yields fewer bytes, not an error. */
  length?: number;
}

export interface WriteOptions {
  /**
   * Replace an existing object [true]. With false an existing key rejects with EXISTS. The check
   * comes before the upload: two writers racing for one key may both succeed, so callers that
   * need exclusivity name objects by content (as the repository does) or use locks.
   */
  overwrite?: boolean;
  /** Set this modification time after the upload, where `capabilities.setMtime` allows. */
  mtime?: Date;
}

/** What a destination can do; data, so callers adapt instead of probing by failure. */
export interface Capabilities {
  /** Connections this storage will use at most at once (after the pool's limit). */
  maxConnections: number;
  /** `rename` onto an existing key replaces it in one step. */
  atomicReplace: boolean;
  /** `setMtime` works (MFMT, vsftpd MDTM, SITE UTIME, utimes). */
  setMtime: boolean;
  /** `freeSpace` can return a figure. */
  freeSpace: boolean;
  /** Entries a single `list` may return before the server truncates, when one is known. */
  listLimit?: number;
  /** Byte offsets are honoured by `read` without reading from the start. */
  rangedRead: boolean;
  /** Writes are refused (read-only destination). */
  readOnly: boolean;
}

/** Free space of the filesystem holding the backup directory, in bytes. */
export interface FreeSpace {
  /** Bytes available to this user. */
  available: number;
  /** Total size, when the server reports it. */
  total?: number;
  /** How the figure was obtained (`statfs`, `statvfs@openssh.com`, `df`, `AVBL`, ...). */
  source: string;
}

/** What the destination told us about itself, for `ferry destination test` and the protocol log. */
export interface ServerInfo {
  protocol: "local" | "memory" | "ftp" | "ftps" | "sftp";
  /** Greeting banner (FTP 220 text, SSH identification string). */
  banner?: string;
  /** FTP FEAT lines, SFTP extensions. */
  features?: string[];
  /** e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384` or the negotiated SSH cipher. */
  tls?: { version: string; cipher: string; sessionReused?: boolean };
  /** SHA-256 certificate fingerprint (`AA:BB:...`) or SSH host key (`SHA256:...`). */
  fingerprint?: string;
  /** The resolved absolute backup directory on the server. */
  root?: string;
  /** Anything else worth showing, as short `key: value` strings. */
  notes?: string[];
}

/**
 * The storage contract. Implementations: adapters (one protocol) and wrappers (pool, retry,
 * throttle, log, read-only) that take a Storage and give one back.
 */
export interface Storage {
  readonly capabilities: Capabilities;

  /**
   * Metadata of one key. Rejects with NOT_FOUND when nothing is there. `stat("")` describes the
   * backup directory. Idempotent.
   */
  stat(key: string): Promise<Entry>;

  /**
   * The entries directly inside a directory key, streamed, in no particular order; `.` and `..`
   * never appear. Rejects (while iterating) with NOT_FOUND when the directory does not exist, and
   * with PROTOCOL when the server truncated the listing: a listing is complete or an error.
   */
  list(dir: string, options?: ListOptions): AsyncIterable<Entry>;

  /**
   * The bytes of an object, streamed, from `offset` for at most `length` bytes. NOT_FOUND if the
   * key does not exist (reported when the stream is read, or before); INVALID for a negative or
   * fractional offset or length. The stream errors rather than ends early when the connection
   * drops. Destroying the stream early gives its connection back. The retry wrapper resumes a
   * broken download where it broke, which assumes the object did not change meanwhile: objects
   * are immutable in a repository.
   */
  read(key: string, options?: ReadOptions): Readable;

  /**
   * Stores an object atomically: the bytes go to a temporary name in the same directory, the
   * uploaded size is verified, then the temporary object is renamed to `key`. A reader never sees
   * a partial object under `key`; after a failure `key` holds the old object or nothing.
   * Parent directories are created as needed. Resolves with the stored size.
   */
  write(key: string, body: Body, options?: WriteOptions): Promise<number>;

  /** Removes one object (not a directory). NOT_FOUND when absent; callers that do not care catch it. */
  remove(key: string, options?: RemoveOptions): Promise<void>;

  /** Removes an empty directory. NOT_FOUND when absent. */
  removeDir(key: string): Promise<void>;

  /**
   * Renames an object. With `overwrite` (default true) an existing target is replaced, atomically
   * where `capabilities.atomicReplace`, else by remove-then-rename. NOT_FOUND when `from` is absent.
   */
  rename(from: string, to: string, options?: { overwrite?: boolean }): Promise<void>;

  /** Creates a directory and its parents. Succeeds when it already exists. Idempotent. */
  mkdir(key: string): Promise<void>;

  /** Sets an object's modification time. UNSUPPORTED where `capabilities.setMtime` is false. */
  setMtime(key: string, mtime: Date): Promise<void>;

  /** Free space, or undefined where the protocol offers no way to ask. */
  freeSpace(): Promise<FreeSpace | undefined>;

  /** What the server told us about itself (connects if needed). */
  info(): Promise<ServerInfo>;

  /** Closes every connection. Later calls reject with CONNECTION. Idempotent. */
  close(): Promise<void>;
}
