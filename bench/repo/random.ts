/**
 * Seeded randomness for the benchmark tree: a small PRNG (sfc32) for decisions and text, and an
 * AES-256-CTR keystream for random bytes (Node's native cipher runs at GB/s; a JS loop would not).
 * The same parts give the same numbers and bytes on every run and machine.
 */
import { createCipheriv, createHash, type Cipheriv } from "node:crypto";

/** 32 bytes derived from the parts: the seed of every stream below. */
function digest(parts: readonly (string | number)[]): Buffer {
  return createHash("sha256").update(parts.join("\u0000")).digest();
}

/** sfc32: 128 bits of state, fast, good enough for picking sizes, names and words. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator seeded from the parts (e.g. the benchmark seed, "file", 42). */
  constructor(...parts: (string | number)[]) {
    const key = digest(parts);
    this.a = key.readUInt32LE(0);
    this.b = key.readUInt32LE(4);
    this.c = key.readUInt32LE(8);
    this.d = key.readUInt32LE(12) | 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** The next unsigned 32-bit number. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A whole number in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    const item = list[this.int(list.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}

const ZEROS = Buffer.alloc(1 << 20);

/** Incompressible bytes: the AES-256-CTR keystream keyed by the parts. */
export class RandomBytes {
  private readonly cipher: Cipheriv;

  /** A stream keyed by the parts. */
  constructor(...parts: (string | number)[]) {
    this.cipher = createCipheriv("aes-256-ctr", digest(parts), Buffer.alloc(16));
  }

  /** The next `n` bytes of the stream. */
  read(n: number): Buffer {
    if (n <= ZEROS.length) return this.cipher.update(ZEROS.subarray(0, n));
    const pieces: Buffer[] = [];
    for (let left = n; left > 0; left -= ZEROS.length) {
      pieces.push(this.cipher.update(ZEROS.subarray(0, Math.min(left, ZEROS.length))));
    }
    return Buffer.concat(pieces, n);
  }
}
