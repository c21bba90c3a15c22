/**
 * Content-defined chunking: FastCDC with normalized chunking (level 2) over a gear hash whose
 * table is derived from a per-repository secret, so chunk boundaries (and therefore chunk sizes)
 * do not reveal file contents to someone who does not hold the secret.
 *
 * Everything here is part of the repository format: the parameters, the gear table derivation,
 * the hash and the cut rule. Changing any of it changes every chunk boundary and defeats
 * deduplication against existing snapshots. The golden vectors in chunker.test.ts pin it.
 *
 * Cut rule for a chunk starting at `s` with `n` bytes available:
 * - `n <= min`: the whole rest when no more data will come, else more data is needed;
 * - otherwise `h = 0`, then for each byte from `s + min` up to `s + avg` (exclusive):
 *   `h = (h << 1) + gear[byte]` (uint32), cut after the byte when the top `log2(avg) + 2` bits of
 *   `h` are zero; then on with the same `h` up to `s + max` with the top `log2(avg) - 2` bits;
 * - no cut: `max` bytes when that many are available, the rest when no more data will come, else
 *   more data is needed.
 */
import { createHmac } from "node:crypto";

/** Chunk size bounds in bytes. Part of the repository format. */
export interface ChunkerParams {
  /** Smallest chunk, except the last one of a stream. At least 64. */
  readonly min: number;
  /** Target average (the normalization point); a power of two, min < avg < max. */
  readonly avg: number;
  /** Largest chunk; at most 1 GiB. */
  readonly max: number;
}

/** The repository format's chunk sizes: 256 KiB minimum, 1 MiB average, 4 MiB maximum. */
export const DEFAULT_CHUNKER_PARAMS: ChunkerParams = Object.freeze({
  min: 256 * 1024,
  avg: 1024 * 1024,
  max: 4 * 1024 * 1024,
});

/** Length in bytes of the per-repository secret the gear table is derived from. */
export const GEAR_SEED_LENGTH = 32;

// Keeps the masks well defined (log2(avg) + 2 <= 32) and `max`-byte buffers allocatable.
const MAX_CHUNK_LIMIT = 2 ** 30;

/**
 * Throws an Error naming the offending field when `params` is not usable: all three must be
 * integers, 64 <= min < avg < max <= 1 GiB, and avg a power of two.
 */
export function validateChunkerParams(params: ChunkerParams): void {
  const { min, avg, max } = params;
  for (const [name, value] of [
    ["min", min],
    ["avg", avg],
    ["max", max],
  ] as const) {
    if (!Number.isSafeInteger(value)) {
      throw new Error(`Invalid chunker params: ${name} must be an integer, got ${String(value)}`);
    }
  }
  if (min < 64) {
    throw new Error(`Invalid chunker params: min must be at least 64, got ${min}`);
  }
  if (!(min < avg && avg < max)) {
    throw new Error(
      `Invalid chunker params: need min < avg < max, got min=${min} avg=${avg} max=${max}`,
    );
  }
  if (max > MAX_CHUNK_LIMIT) {
    throw new Error(`Invalid chunker params: max must be at most ${MAX_CHUNK_LIMIT}, got ${max}`);
  }
  // avg < 2^30 here, so the 32-bit test is exact.
  if ((avg & (avg - 1)) !== 0) {
    throw new Error(`Invalid chunker params: avg must be a power of two, got ${avg}`);
  }
}

/**
 * The gear table of a repository: `gear[i]` is the first 4 bytes, big-endian, of
 * HMAC-SHA256(key = seed, message = ASCII "ferry-gear" followed by the byte i).
 * Throws when `seed` is not 32 bytes.
 */
export function gearTable(seed: Uint8Array): Uint32Array {
  if (seed.length !== GEAR_SEED_LENGTH) {
    throw new Error(`Gear seed must be ${GEAR_SEED_LENGTH} bytes, got ${seed.length}`);
  }
  const prefix = Buffer.from("ferry-gear", "ascii");
  const message = Buffer.alloc(prefix.length + 1);
  prefix.copy(message);
  const gear = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    message[prefix.length] = i;
    gear[i] = createHmac("sha256", seed).update(message).digest().readUInt32BE(0);
  }
  return gear;
}

/** Everything the scan loops need, computed once per parameter set. */
interface Prepared {
  readonly gear: Int32Array;
  readonly min: number;
  readonly avg: number;
  readonly max: number;
  readonly maskS: number;
  readonly maskL: number;
}

/** Mutable rolling-hash state carried between scan calls of one chunk. */
interface ScanState {
  h: number;
}

function prepare(gear: Uint32Array, params: ChunkerParams): Prepared {
  if (!(gear instanceof Uint32Array) || gear.length !== 256) {
    throw new Error("Gear table must be a Uint32Array of 256 entries (see gearTable)");
  }
  validateChunkerParams(params);
  const bits = Math.round(Math.log2(params.avg));
  return {
    // The loops run in int32: same bits as the uint32 arithmetic of the format, and V8 keeps
    // int32 values unboxed where uint32 values above 2^31 would become doubles.
    gear: new Int32Array(gear.buffer, gear.byteOffset, 256),
    min: params.min,
    avg: params.avg,
    max: params.max,
    maskS: 0xffffffff << (32 - (bits + 2)),
    maskL: 0xffffffff << (32 - (bits - 2)),
  };
}

/**
 * The hot loop. Hashes `data[from..endL)` continuing from `state.h`, testing `maskS` while below
 * `endS` and `maskL` from there. Returns the index just after the cut byte, or -1 with the hash
 * saved in `state.h` when no byte matched.
 */
function scan(
  gear: Int32Array,
  maskS: number,
  maskL: number,
  data: Uint8Array,
  from: number,
  endS: number,
  endL: number,
  state: ScanState,
): number {
  let h = state.h;
  // Two separate loops, each testing one mask, each with its own counter: sharing one counter
  // across both loops halves the speed in V8 (measured with bench/chunker.ts). The `as number`
  // casts only satisfy noUncheckedIndexedAccess: the callers keep every index in bounds.
  for (let i = from; i < endS; i++) {
    h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
    if ((h & maskS) === 0) return i + 1;
  }
  for (let i = Math.max(from, endS); i < endL; i++) {
    h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
    if ((h & maskL) === 0) return i + 1;
  }
  state.h = h;
  return -1;
}

/**
 * Length of the chunk that starts at `data[start]`, given that `data[start..end)` is available
 * and, when `final`, that no more data follows. Returns -1 when more data is needed to decide.
 * With `final` and `start === end` it returns 0 (there is no chunk). Pure; throws on invalid
 * params, gear table or range.
 */
export function cutPoint(
  gear: Uint32Array,
  params: ChunkerParams,
  data: Uint8Array,
  start: number,
  end: number,
  final: boolean,
): number {
  const p = prepare(gear, params);
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(end) ||
    start < 0 ||
    start > end ||
    end > data.length
  ) {
    throw new RangeError(
      `cutPoint: need 0 <= start <= end <= data.length, got start=${String(start)} end=${String(end)} length=${data.length}`,
    );
  }
  const n = end - start;
  if (n <= p.min) return final ? n : -1;
  const state: ScanState = { h: 0 };
  const cut = scan(
    p.gear,
    p.maskS,
    p.maskL,
    data,
    start + p.min,
    Math.min(start + p.avg, end),
    Math.min(start + p.max, end),
    state,
  );
  if (cut >= 0) return cut - start;
  if (n >= p.max) return p.max;
  return final ? n : -1;
}

/**
 * Streaming chunker: feed buffers of any size with `push`, then call `finish`. Both return the
 * chunks completed so far, in order. Every returned chunk is a fresh plain `Uint8Array` that owns
 * its whole `ArrayBuffer` (byteOffset 0, byteLength equal to the chunk length), so it can be
 * transferred to another thread; input buffers are never retained, and may be reused by the
 * caller as soon as `push` returns. At most `max - 1` bytes are held between calls.
 */
export class Chunker {
  readonly #p: Prepared;
  /** Start of the current chunk: bytes from earlier pushes. Length `max`, `#held` used. */
  readonly #buffer: Uint8Array;
  #held = 0;
  /** Rolling hash over the held bytes past `min`, so nothing is hashed twice. */
  readonly #state: ScanState = { h: 0 };

  /** Throws when `gear` is not a 256-entry table or `params` are invalid. */
  constructor(gear: Uint32Array, params: ChunkerParams = DEFAULT_CHUNKER_PARAMS) {
    this.#p = prepare(gear, params);
    this.#buffer = new Uint8Array(this.#p.max);
  }

  /** Adds `buf` to the stream; returns the chunks it completes (possibly none). */
  push(buf: Uint8Array): Uint8Array[] {
    const { gear, maskS, maskL, min, avg, max } = this.#p;
    const out: Uint8Array[] = [];
    const n = buf.length;
    let pos = 0;
    while (pos < n) {
      const held = this.#held;
      // Chunk start in `buf` coordinates; negative when earlier pushes began the chunk.
      const s = pos - held;
      const limitL = s + max;
      let cut = scan(
        gear,
        maskS,
        maskL,
        buf,
        Math.max(pos, s + min),
        Math.min(s + avg, n),
        Math.min(limitL, n),
        this.#state,
      );
      if (cut < 0) {
        if (limitL > n) {
          this.#buffer.set(buf.subarray(pos), held);
          this.#held = held + n - pos;
          break;
        }
        cut = limitL;
      }
      out.push(this.#emit(buf, pos, cut));
      pos = cut;
    }
    return out;
  }

  /**
   * Ends the stream: returns the last chunk (the held bytes, at most `max - 1`), or nothing when
   * the stream was empty or ended on a boundary. The chunker is then ready for a new stream.
   */
  finish(): Uint8Array[] {
    const held = this.#held;
    if (held === 0) return [];
    const chunk = this.#buffer.slice(0, held);
    this.#held = 0;
    this.#state.h = 0;
    return [chunk];
  }

  /** The current chunk: the held bytes followed by `buf[from..to)`; resets for the next one. */
  #emit(buf: Uint8Array, from: number, to: number): Uint8Array {
    const held = this.#held;
    const chunk = new Uint8Array(held + to - from);
    if (held > 0) chunk.set(this.#buffer.subarray(0, held));
    chunk.set(buf.subarray(from, to), held);
    this.#held = 0;
    this.#state.h = 0;
    return chunk;
  }
}

/**
 * Chunks an async stream of buffers (for instance a `fs.ReadStream`) with a {@link Chunker},
 * yielding each chunk as soon as it is complete. Chunks are as described on {@link Chunker}.
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array>,
  gear: Uint32Array,
  params: ChunkerParams = DEFAULT_CHUNKER_PARAMS,
): AsyncGenerator<Uint8Array, void, undefined> {
  const chunker = new Chunker(gear, params);
  for await (const buf of source) {
    yield* chunker.push(buf);
  }
  yield* chunker.finish();
}
