/**
 * Collects sealed blobs into packs and uploads them on up to `concurrency` connections. After
 * each pack is stored its index is written at once, so an interrupted run's packs are known to
 * the next run; `finish` writes one index superseding those and removes them.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { PackContents } from "./index-file.ts";
import { packKey } from "./layout.ts";
import { sealHeader, type BlobType, type PackedBlob } from "./pack.ts";
import type { Repository } from "./repository.ts";

interface OpenPack {
  parts: Uint8Array[];
  blobs: PackedBlob[];
  size: number;
}

/** Totals of what a packer stored. */
export interface PackerStats {
  blobs: number;
  /** Plaintext bytes of the blobs added. */
  rawBytes: number;
  /** Bytes of the packs uploaded, headers included. */
  packedBytes: number;
  packs: number;
}

export class Packer {
  readonly #repo: Repository;
  readonly #concurrency: number;
  readonly #open = new Map<BlobType, OpenPack>();
  /** Ids in open or uploading packs: stored as far as deduplication is concerned. */
  readonly #pending = new Set<string>();
  readonly #uploads = new Set<Promise<void>>();
  readonly #stored: PackContents[] = [];
  readonly #checkpoints: string[] = [];
  #failure: unknown;
  readonly stats: PackerStats = { blobs: 0, rawBytes: 0, packedBytes: 0, packs: 0 };
  /** Called after each pack and its index are stored. */
  onPackStored: ((pack: PackContents, bytes: number) => void) | undefined;

  readonly #ignoreIndex: boolean;

  /**
   * `ignoreIndex`: store every blob once even when the repository's index already lists it. Prune
   * needs this: it moves exactly those blobs out of packs it is about to remove.
   */
  constructor(repo: Repository, options: { concurrency?: number; ignoreIndex?: boolean } = {}) {
    this.#repo = repo;
    this.#concurrency = Math.max(
      1,
      options.concurrency ?? repo.storage.capabilities.maxConnections,
    );
    this.#ignoreIndex = options.ignoreIndex === true;
  }

  /** True when the blob is stored, or will be by this packer. */
  has(id: string): boolean {
    return this.#pending.has(id) || (!this.#ignoreIndex && this.#repo.index.has(id));
  }

  /**
   * Adds a sealed blob. Resolves once there is room for more: when uploads are saturated it
   * waits, which is what keeps memory flat.
   */
  async add(type: BlobType, id: string, sealed: Uint8Array, rawLength: number): Promise<void> {
    this.#throwIfFailed();
    if (this.has(id)) return;
    this.#pending.add(id);
    let pack = this.#open.get(type);
    if (pack === undefined) {
      pack = { parts: [], blobs: [], size: 0 };
      this.#open.set(type, pack);
    }
    pack.blobs.push({
      type,
      id: Buffer.from(id, "hex"),
      offset: pack.size,
      length: sealed.length,
      rawLength,
    });
    pack.parts.push(sealed);
    pack.size += sealed.length;
    this.stats.blobs++;
    this.stats.rawBytes += rawLength;
    const { target, max } = this.#repo.config.packSize;
    // Close before the largest possible next blob (a maximal chunk, sealed) could pass `max`.
    const largest = this.#repo.config.chunker.max + 1024;
    if (pack.size >= target || pack.size + largest > max) {
      this.#open.delete(type);
      await this.#upload(pack);
    }
  }

  async #upload(pack: OpenPack): Promise<void> {
    while (this.#uploads.size >= this.#concurrency) await Promise.race(this.#uploads);
    this.#throwIfFailed();
    const upload = this.#store(pack).then(
      () => undefined,
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
    this.#uploads.add(upload);
    void upload.finally(() => this.#uploads.delete(upload));
  }

  async #store(pack: OpenPack): Promise<void> {
    const repo = this.#repo;
    const id = randomBytes(32).toString("hex");
    const tail = sealHeader(repo.config.aead, repo.keys.encryption, pack.blobs);
    // Streamed from the blobs as they are: concatenating first doubled the memory of every pack
    // in flight. The factory lets a retried upload start again from the first blob.
    const parts = [...pack.parts, tail];
    pack.parts.length = 0;
    const size = parts.reduce((sum, part) => sum + part.length, 0);
    await repo.storage.write(packKey(id), {
      open: () => Readable.from(parts, { objectMode: false }),
      size,
    });
    const contents: PackContents = {
      id,
      blobs: pack.blobs.map((b) => ({
        type: b.type,
        id: Buffer.from(b.id).toString("hex"),
        offset: b.offset,
        length: b.length,
        rawLength: b.rawLength,
      })),
    };
    this.#checkpoints.push(await repo.writeIndex([contents]));
    repo.index.addPack(contents);
    for (const blob of contents.blobs) this.#pending.delete(blob.id);
    this.#stored.push(contents);
    this.stats.packs++;
    this.stats.packedBytes += size;
    this.onPackStored?.(contents, size);
  }

  /** Uploads what is left, waits for every upload, and consolidates this run's index files. */
  async finish(): Promise<PackContents[]> {
    for (const [type, pack] of this.#open) {
      this.#open.delete(type);
      if (pack.blobs.length > 0) await this.#upload(pack);
    }
    while (this.#uploads.size > 0) await Promise.race(this.#uploads);
    this.#throwIfFailed();
    if (this.#checkpoints.length > 1) {
      await this.#repo.writeIndex(this.#stored, this.#checkpoints);
      for (const name of this.#checkpoints) await this.#repo.removeIndex(name);
    }
    this.#checkpoints.length = 0;
    return this.#stored;
  }

  /** Waits for running uploads without starting new ones (after a failure or an abort). */
  async abandon(): Promise<void> {
    this.#open.clear();
    while (this.#uploads.size > 0) await Promise.race(this.#uploads);
  }

  #throwIfFailed(): void {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what an upload rejected with
    if (this.#failure !== undefined) throw this.#failure;
  }
}
