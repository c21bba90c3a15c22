/**
 * An open repository: its config, master keys, blob index, cache, and the reads and writes of
 * sealed files and blobs. Knows the Storage interface only, never a protocol.
 */
import { isStorageError } from "../storage/errors.ts";
import type { Storage } from "../storage/storage.ts";
import { defaultCacheRoot, RepoCache } from "./cache.ts";
import { unframe, frame } from "./codec.ts";
import {
  configSchema,
  FORMAT_VERSION,
  newConfig,
  type NewConfigOptions,
  type RepoConfig,
} from "./config.ts";
import { blobId, newMasterKeys, open, seal, type MasterKeys } from "./crypto.ts";
import { RepoError } from "./errors.ts";
import {
  BlobIndex,
  indexSchema,
  toIndexFile,
  type BlobLocation,
  type IndexFile,
  type PackContents,
} from "./index-file.ts";
import { listNames, mapLimit, readAll } from "./io.ts";
import {
  createKeyFile,
  DEFAULT_KDF_COST,
  parseKeyFile,
  unwrapKeyFile,
  type KdfCost,
} from "./keys.ts";
import { CONFIG_KEY, DIRS, fileKey, isObjectName, packKey } from "./layout.ts";
import { blobAd, parsePack, type BlobType } from "./pack.ts";
import { contentName, decodeJson, openJson, sealJson } from "./sealed-file.ts";
import { snapshotSchema, type Snapshot, type SnapshotEntry } from "./snapshot.ts";
import { decodeTree, type TreeNode } from "./tree.ts";

/** Chunker defaults live with the chunker; the repository only records them in its config. */
export const CHUNKER_DEFAULTS = { min: 256 * 1024, avg: 1024 * 1024, max: 4 * 1024 * 1024 };

export interface OpenOptions {
  /** Cache root; `null` disables the cache [FERRY_CACHE or the user's cache directory]. */
  cacheRoot?: string | null;
}

export interface InitOptions extends OpenOptions, NewConfigOptions {
  /** Password hashing cost [Argon2id 64 MiB, 3 passes]; tests use cheap settings. */
  kdf?: KdfCost;
}

/** One open repository. */
export class Repository {
  readonly storage: Storage;
  readonly config: RepoConfig;
  readonly keys: MasterKeys;
  /** Name of the key file the password opened. */
  readonly keyName: string;
  readonly index = new BlobIndex();
  readonly cache: RepoCache | undefined;
  /** Index files loaded so far, superseded ones included. */
  readonly #indexFiles = new Map<string, IndexFile>();

  private constructor(
    storage: Storage,
    config: RepoConfig,
    keys: MasterKeys,
    keyName: string,
    cacheRoot: string | null | undefined,
  ) {
    this.storage = storage;
    this.config = config;
    this.keys = keys;
    this.keyName = keyName;
    const root = cacheRoot === undefined ? defaultCacheRoot() : cacheRoot;
    this.cache = root === null ? undefined : new RepoCache(root, config.id);
  }

  /** Creates a repository at an empty destination; EXISTS when one is there already. */
  static async init(
    storage: Storage,
    password: string,
    options: InitOptions = {},
  ): Promise<Repository> {
    if (password === "")
      throw new RepoError(
        "INVALID",
        "The password is empty; choose a password for the new repository.",
      );
    if (await exists(storage, CONFIG_KEY)) {
      throw new RepoError(
        "EXISTS",
        "A repository already exists at this destination; use it, or choose another directory.",
      );
    }
    const config = newConfig(CHUNKER_DEFAULTS, options);
    const keys = newMasterKeys();
    const key = createKeyFile(password, keys, options.kdf ?? DEFAULT_KDF_COST);
    for (const dir of Object.values(DIRS)) await storage.mkdir(dir);
    await storage.write(fileKey("key", key.name), key.bytes, { overwrite: false });
    // The config is written last: a destination with keys but no config is an unfinished init.
    await storage.write(CONFIG_KEY, sealJson(config.aead, keys.encryption, "config", config), {
      overwrite: false,
    });
    return new Repository(storage, config, keys, key.name, options.cacheRoot);
  }

  /** Opens a repository with a password: NO_REPOSITORY, WRONG_PASSWORD or DAMAGED otherwise. */
  static async open(
    storage: Storage,
    password: string,
    options: OpenOptions = {},
  ): Promise<Repository> {
    const configBytes = await readAll(storage, CONFIG_KEY).catch((error: unknown) => {
      if (isStorageError(error, "NOT_FOUND")) {
        throw new RepoError(
          "NO_REPOSITORY",
          "There is no ferry repository at this destination (no config file); create one with `ferry init`.",
        );
      }
      throw error;
    });
    const names = (await listNames(storage, DIRS.key)).filter((e) => isObjectName(e.name));
    if (names.length === 0)
      throw new RepoError(
        "DAMAGED",
        "The repository has no key files (keys/ is empty or missing); it cannot be opened.",
      );
    for (const { name } of names) {
      const file = parseKeyFile(await readAll(storage, fileKey("key", name)), name);
      const keys = unwrapKeyFile(file, password, name);
      if (keys === undefined) continue;
      const config = decodeJson(
        configSchema,
        openJson(keys.encryption, "config", configBytes, "The config file"),
        "The config file",
      );
      if (config.version > FORMAT_VERSION) {
        throw new RepoError(
          "UNSUPPORTED_VERSION",
          `The repository uses format version ${config.version}; this ferry reads up to ${FORMAT_VERSION}. Upgrade ferry.`,
        );
      }
      return new Repository(storage, config, keys, name, options.cacheRoot);
    }
    throw new RepoError(
      "WRONG_PASSWORD",
      `The password opens none of the repository's ${names.length} key${names.length === 1 ? "" : "s"}; check the password (FERRY_PASSWORD, --password-file or --password-command).`,
    );
  }

  /** Reads a stored object through the cache: cached bytes are used as they are. */
  async #cached(kind: "index" | "snapshots", key: string, name: string): Promise<Buffer> {
    const hit = await this.cache?.get(kind, name);
    if (hit !== undefined) return hit;
    const bytes = await readAll(this.storage, key);
    await this.cache?.put(kind, name, bytes);
    return bytes;
  }

  /**
   * Loads index files not loaded yet. Superseded files are skipped: their packs are listed again
   * by the file that superseded them. A file removed while we listed (prune, consolidation) is
   * skipped too.
   */
  async loadIndex(): Promise<void> {
    const names = (await listNames(this.storage, DIRS.index))
      .map((e) => e.name)
      .filter(isObjectName);
    const fresh = names.filter((n) => !this.#indexFiles.has(n));
    await mapLimit(fresh, this.storage.capabilities.maxConnections, async (name) => {
      let bytes: Buffer;
      try {
        bytes = await this.#cached("index", fileKey("index", name), name);
      } catch (error) {
        if (isStorageError(error, "NOT_FOUND")) return;
        throw error;
      }
      const what = `Index file index/${name}`;
      try {
        this.#indexFiles.set(
          name,
          decodeJson(indexSchema, openJson(this.keys.encryption, "index", bytes, what), what),
        );
      } catch (error) {
        await this.cache?.drop("index", name);
        throw error;
      }
    });
    await this.cache?.retain("index", new Set(names));
    const superseded = new Set<string>();
    for (const file of this.#indexFiles.values())
      for (const s of file.supersedes) superseded.add(s);
    for (const name of fresh) {
      const file = this.#indexFiles.get(name);
      if (file !== undefined && !superseded.has(name)) this.index.addFile(file);
    }
  }

  /** Names of loaded index files that no other loaded index supersedes. */
  liveIndexFiles(): string[] {
    const superseded = new Set<string>();
    for (const file of this.#indexFiles.values())
      for (const s of file.supersedes) superseded.add(s);
    return [...this.#indexFiles.keys()].filter((n) => !superseded.has(n));
  }

  /** Every loaded index file name, superseded ones included. */
  allIndexFiles(): string[] {
    return [...this.#indexFiles.keys()];
  }

  /** Writes an index file for `packs`; returns its name. */
  async writeIndex(
    packs: readonly PackContents[],
    supersedes: readonly string[] = [],
  ): Promise<string> {
    const file = toIndexFile(packs, supersedes);
    const bytes = sealJson(this.config.aead, this.keys.encryption, "index", file);
    const name = contentName(bytes);
    await this.storage.write(fileKey("index", name), bytes);
    this.#indexFiles.set(name, file);
    await this.cache?.put("index", name, bytes);
    return name;
  }

  /** Removes an index file (after a superseding one is stored). */
  async removeIndex(name: string): Promise<void> {
    await this.storage.remove(fileKey("index", name)).catch(ignoreNotFound);
    this.#indexFiles.delete(name);
    await this.cache?.drop("index", name);
  }

  /** Every snapshot, oldest first. */
  async listSnapshots(): Promise<SnapshotEntry[]> {
    const names = (await listNames(this.storage, DIRS.snapshot))
      .map((e) => e.name)
      .filter(isObjectName);
    const out = await mapLimit(names, this.storage.capabilities.maxConnections, async (id) => {
      try {
        return { id, snapshot: await this.loadSnapshot(id) };
      } catch (error) {
        if (isStorageError(error, "NOT_FOUND")) return undefined;
        throw error;
      }
    });
    await this.cache?.retain("snapshots", new Set(names));
    return out
      .filter((s) => s !== undefined)
      .sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
  }

  /** One snapshot by its full id. */
  async loadSnapshot(id: string): Promise<Snapshot> {
    const bytes = await this.#cached("snapshots", fileKey("snapshot", id), id);
    const what = `Snapshot ${id.slice(0, 8)}`;
    if (contentName(bytes) !== id) {
      await this.cache?.drop("snapshots", id);
      throw new RepoError(
        "DAMAGED",
        `${what} does not match its name: it was modified or truncated.`,
      );
    }
    return decodeJson(
      snapshotSchema,
      openJson(this.keys.encryption, "snapshot", bytes, what),
      what,
    );
  }

  /**
   * Finds a snapshot by `latest` or an id prefix (at least 4 hex digits), optionally among
   * `candidates` (already filtered by host, path or tag).
   */
  async resolveSnapshot(ref: string, candidates?: SnapshotEntry[]): Promise<SnapshotEntry> {
    const all = candidates ?? (await this.listSnapshots());
    if (ref === "latest") {
      const last = all.at(-1);
      if (last === undefined)
        throw new RepoError(
          "NOT_FOUND",
          "The repository has no snapshots yet; run `ferry backup` first.",
        );
      return last;
    }
    if (!/^[0-9a-f]{4,64}$/.test(ref)) {
      throw new RepoError(
        "INVALID",
        `"${ref}" is not a snapshot id; give "latest" or at least 4 hex digits of an id from \`ferry snapshots\`.`,
      );
    }
    const matches = all.filter((s) => s.id.startsWith(ref));
    if (matches.length === 0)
      throw new RepoError(
        "NOT_FOUND",
        `No snapshot id starts with ${ref}; list them with \`ferry snapshots\`.`,
      );
    if (matches.length > 1)
      throw new RepoError(
        "INVALID",
        `${matches.length} snapshots start with ${ref}; give more digits.`,
      );
    return matches[0] as SnapshotEntry;
  }

  /** Stores a snapshot (after everything it names is stored); returns its id. */
  async saveSnapshot(snapshot: Snapshot): Promise<string> {
    const bytes = sealJson(this.config.aead, this.keys.encryption, "snapshot", snapshot);
    const id = contentName(bytes);
    await this.storage.write(fileKey("snapshot", id), bytes);
    await this.cache?.put("snapshots", id, bytes);
    return id;
  }

  /** Removes a snapshot file. */
  async removeSnapshot(id: string): Promise<void> {
    await this.storage.remove(fileKey("snapshot", id)).catch(ignoreNotFound);
    await this.cache?.drop("snapshots", id);
  }

  /** Seals a blob for a pack (the worker threads do the same for data). */
  sealBlob(type: BlobType, id: Uint8Array, data: Uint8Array): Buffer {
    return seal(
      this.config.aead,
      this.keys.encryption,
      frame(data, this.config.compression.level),
      blobAd(type, id),
    );
  }

  /** The keyed id of some plaintext. */
  blobId(data: Uint8Array): Buffer {
    return blobId(this.keys.mac, data);
  }

  /**
   * Opens a sealed blob and checks that its plaintext hashes to its id: every byte a restore
   * writes is authenticated.
   */
  openBlob(type: BlobType, id: string, sealed: Uint8Array, rawLength: number): Buffer {
    const idBytes = Buffer.from(id, "hex");
    const what = `${type === "tree" ? "Tree" : "Data"} blob ${id.slice(0, 12)}`;
    const plain = unframe(
      open(this.keys.encryption, sealed, blobAd(type, idBytes), what),
      what,
      rawLength,
    );
    if (!blobId(this.keys.mac, plain).equals(idBytes)) {
      throw new RepoError("DAMAGED", `${what} does not hash to its id.`);
    }
    return plain;
  }

  /** Where a blob is; NOT_FOUND naming the blob when the index does not know it. */
  locate(type: BlobType, id: string): BlobLocation {
    const location = this.index.get(id);
    if (location?.type !== type) {
      throw new RepoError(
        "DAMAGED",
        `${type === "tree" ? "Tree" : "Data"} blob ${id.slice(0, 12)} is not in any index: the repository is missing data (run \`ferry check\`).`,
      );
    }
    return location;
  }

  /** Loads and authenticates one blob. Tree packs are read whole and cached. */
  async loadBlob(type: BlobType, id: string): Promise<Buffer> {
    const at = this.locate(type, id);
    if (type === "tree") {
      const pack = await this.#treePack(at.pack);
      return this.openBlob(type, id, pack.subarray(at.offset, at.offset + at.length), at.rawLength);
    }
    const sealed = await readAll(this.storage, packKey(at.pack), {
      offset: at.offset,
      length: at.length,
    });
    if (sealed.length !== at.length) {
      throw new RepoError(
        "DAMAGED",
        `Pack ${at.pack.slice(0, 12)} is truncated: blob ${id.slice(0, 12)} is cut short.`,
      );
    }
    return this.openBlob(type, id, sealed, at.rawLength);
  }

  readonly #treePacks = new Map<string, Promise<Buffer>>();

  #treePack(pack: string): Promise<Buffer> {
    let pending = this.#treePacks.get(pack);
    if (pending === undefined) {
      pending = (async () => {
        const hit = await this.cache?.get("packs", pack);
        if (hit !== undefined) return hit;
        const bytes = await readAll(this.storage, packKey(pack));
        parsePack(this.keys.encryption, bytes, `Pack ${pack.slice(0, 12)}`);
        await this.cache?.put("packs", pack, bytes);
        return bytes;
      })();
      pending.catch(() => this.#treePacks.delete(pack));
      this.#treePacks.set(pack, pending);
    }
    return pending;
  }

  /** Loads and decodes a tree. */
  async loadTree(id: string): Promise<TreeNode[]> {
    return decodeTree(await this.loadBlob("tree", id), `Tree ${id.slice(0, 12)}`);
  }

  /** Drops cached tree packs that are gone (after prune). */
  forgetTreePacks(): void {
    this.#treePacks.clear();
  }
}

async function exists(storage: Storage, key: string): Promise<boolean> {
  try {
    await storage.stat(key);
    return true;
  } catch (error) {
    if (isStorageError(error, "NOT_FOUND")) return false;
    throw error;
  }
}

/** For removals that do not care whether the object was there. */
export function ignoreNotFound(error: unknown): void {
  if (!isStorageError(error, "NOT_FOUND")) throw error;
}
