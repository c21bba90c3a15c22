/**
 * The chunker is part of the repository format: golden vectors pin the gear table and the chunk
 * boundaries, a naive reference written straight from the spec (no shared code, different
 * arithmetic) checks them, and properties check the streaming API against the pure one.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  Chunker,
  chunkStream,
  cutPoint,
  DEFAULT_CHUNKER_PARAMS,
  gearTable,
  validateChunkerParams,
  type ChunkerParams,
} from "./chunker.ts";

const GOLDEN_SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const GOLDEN_SIZE = 16 * 1024 * 1024;
/** Small parameters: many chunks from little data. */
const SMALL: ChunkerParams = { min: 64, avg: 256, max: 1024 };

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `size` bytes of SHA-256 in counter mode: block k is SHA-256("ferry chunker golden" ‖ u32be(k)). */
function goldenInput(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const message = Buffer.alloc("ferry chunker golden".length + 4);
  message.write("ferry chunker golden", "ascii");
  for (let k = 0; k * 32 < size; k++) {
    message.writeUInt32BE(k, message.length - 4);
    out.set(
      createHash("sha256")
        .update(message)
        .digest()
        .subarray(0, size - k * 32),
      k * 32,
    );
  }
  return out;
}

/** Deterministic pseudo-random bytes (mulberry32) from a small alphabet, for properties. */
function pseudoRandom(seed: number, length: number, alphabet = 256): Uint8Array {
  const out = new Uint8Array(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) % alphabet;
  }
  return out;
}

// ---- Naive reference, written from the spec without looking at chunker.ts' loops ----

/** HMAC-SHA256 built by hand from SHA-256 (RFC 2104), so the gear test does not trust createHmac. */
function naiveHmacSha256(key: Uint8Array, message: Uint8Array): Buffer {
  const block = Buffer.alloc(64);
  block.set(key);
  const inner = createHash("sha256")
    .update(block.map((b) => b ^ 0x36))
    .update(message)
    .digest();
  return createHash("sha256")
    .update(block.map((b) => b ^ 0x5c))
    .update(inner)
    .digest();
}

function naiveGear(seed: Uint8Array): number[] {
  const gear: number[] = [];
  for (let i = 0; i < 256; i++) {
    const message = Buffer.concat([Buffer.from("ferry-gear"), Buffer.from([i])]);
    const d = naiveHmacSha256(seed, message);
    gear.push((d[0] ?? 0) * 2 ** 24 + (d[1] ?? 0) * 2 ** 16 + (d[2] ?? 0) * 2 ** 8 + (d[3] ?? 0));
  }
  return gear;
}

/** Chunk lengths of the whole of `data`, by the spec, in plain float arithmetic. */
function naiveChunkLengths(gear: number[], params: ChunkerParams, data: Uint8Array): number[] {
  let bits = 0;
  while (2 ** bits < params.avg) bits++;
  /** True when the top `k` bits of the 32-bit value `h` are all zero. */
  const topZero = (h: number, k: number): boolean => Math.floor(h / 2 ** (32 - k)) === 0;
  const lengths: number[] = [];
  let s = 0;
  while (s < data.length) {
    const n = data.length - s;
    let length = -1;
    if (n <= params.min) {
      length = n;
    } else {
      let h = 0;
      for (let i = s + params.min; i < s + n && i < s + params.max; i++) {
        h = (h * 2 + (gear[data[i] ?? -1] ?? NaN)) % 2 ** 32;
        const k = i < s + params.avg ? bits + 2 : bits - 2;
        if (topZero(h, k)) {
          length = i - s + 1;
          break;
        }
      }
      if (length < 0) length = Math.min(n, params.max);
    }
    lengths.push(length);
    s += length;
  }
  return lengths;
}

// ---- Helpers over the real implementation ----

/** Chunk lengths of the whole of `data` by repeated cutPoint calls. */
function cutPointLengths(gear: Uint32Array, params: ChunkerParams, data: Uint8Array): number[] {
  const lengths: number[] = [];
  for (let s = 0; s < data.length; ) {
    const length = cutPoint(gear, params, data, s, data.length, true);
    assert.ok(length > 0);
    lengths.push(length);
    s += length;
  }
  return lengths;
}

/** Chunks of `data` through a Chunker, pushed in pieces that end at `splits` (sorted or not). */
function chunkInPieces(
  chunker: Chunker,
  data: Uint8Array,
  splits: readonly number[] = [],
): Uint8Array[] {
  const ends = [...splits.map((x) => Math.min(x, data.length)), data.length].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const end of ends) {
    chunks.push(...chunker.push(data.subarray(at, end)));
    at = end;
  }
  chunks.push(...chunker.finish());
  return chunks;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks);
}

function lengthsOf(chunks: readonly Uint8Array[]): number[] {
  return chunks.map((c) => c.length);
}

/** Start offsets of the chunks, plus the total length. */
function boundaries(lengths: readonly number[]): number[] {
  const out = [0];
  for (const length of lengths) out.push((out.at(-1) ?? 0) + length);
  return out;
}

/**
 * Chunks `size` pseudo-random bytes before and after inserting `inserted` at `at`; returns how
 * many boundaries follow the edit in the original and how many of them are gone from the edited
 * data (compared shifted by the insertion), after checking that the lost ones are the first ones:
 * once a boundary is shared, every later one is.
 */
function insertionLoss(
  gearSeed: number,
  dataSeed: number,
  size: number,
  at: number,
  inserted: Uint8Array,
): { later: number; lost: number } {
  const gear = gearTable(pseudoRandom(gearSeed, 32));
  const data = pseudoRandom(dataSeed, size);
  const edited = Buffer.concat([data.subarray(0, at), inserted, data.subarray(at)]);
  const before = boundaries(cutPointLengths(gear, SMALL, data)).filter((b) => b > at);
  const after = new Set(boundaries(cutPointLengths(gear, SMALL, edited)));
  const kept = before.filter((b) => after.has(b + inserted.length));
  const lost = before.length - kept.length;
  assert.deepEqual(before.slice(lost), kept);
  return { later: before.length, lost };
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

// ---- Golden vectors ----

const GOLDEN_GEAR_FIRST = [0x34373f53, 0x08fb1984, 0x8cc2298a];
/** SHA-256 of the 256 entries as big-endian 32-bit words. */
const GOLDEN_GEAR_SHA256 = "fd64c85ff887ccd88e3d4d30e4c2194c98a7c92c054dfa5a53d5b7ee7e098aad";
const GOLDEN_INPUT_SHA256 = "8e4cb141ec83ee2668d0157348ed056cd864c5682963826dce61a4aa905ae59c";
const GOLDEN_LENGTHS = [
  1463472, 469228, 1070869, 1492160, 1184222, 497285, 1471454, 1110491, 675809, 1382605, 1575424,
  459914, 1413303, 776998, 1203005, 530977,
];
/** Chunks of the first 1 MiB with the small parameters, and SHA-256 of their lengths joined by ",". */
const GOLDEN_SMALL_COUNT = 3619;
const GOLDEN_SMALL_LENGTHS_SHA256 =
  "c37ecba77e80c519eb71efb02b284054030fbb1e3df8cb4d4f158f7d3e99a114";

describe("chunker golden vectors (repository format)", () => {
  const gear = gearTable(GOLDEN_SEED);
  const input = goldenInput(GOLDEN_SIZE);

  it("gear table from the seed 00..1f", () => {
    assert.deepEqual([...gear.subarray(0, 3)], GOLDEN_GEAR_FIRST);
    const bigEndian = Buffer.alloc(4 * 256);
    gear.forEach((entry, i) => bigEndian.writeUInt32BE(entry, 4 * i));
    assert.equal(sha256(bigEndian), GOLDEN_GEAR_SHA256);
    assert.deepEqual([...gear], naiveGear(GOLDEN_SEED));
  });

  it("input generator", () => {
    assert.equal(sha256(input), GOLDEN_INPUT_SHA256);
  });

  it("16 MiB, default parameters: cutPoint", () => {
    assert.deepEqual(cutPointLengths(gear, DEFAULT_CHUNKER_PARAMS, input), GOLDEN_LENGTHS);
  });

  it("16 MiB, default parameters: the naive reference agrees", () => {
    assert.deepEqual(
      naiveChunkLengths(naiveGear(GOLDEN_SEED), DEFAULT_CHUNKER_PARAMS, input),
      GOLDEN_LENGTHS,
    );
  });

  it("16 MiB, default parameters: Chunker in odd-sized pushes, and chunkStream", async () => {
    const splits: number[] = [];
    for (let at = 100_003; at < input.length; at += 100_003) splits.push(at);
    const chunks = chunkInPieces(new Chunker(gear), input, splits);
    assert.deepEqual(lengthsOf(chunks), GOLDEN_LENGTHS);
    assert.equal(sha256(concat(chunks)), GOLDEN_INPUT_SHA256);

    async function* source(): AsyncGenerator<Uint8Array> {
      await Promise.resolve();
      for (let at = 0; at < input.length; at += 65_536) yield input.subarray(at, at + 65_536);
    }
    const streamed = await collect(chunkStream(source(), gear, DEFAULT_CHUNKER_PARAMS));
    assert.deepEqual(lengthsOf(streamed), GOLDEN_LENGTHS);
  });

  it("first 1 MiB, small parameters (64/256/1024): many cut points of both masks", () => {
    const data = input.subarray(0, 1024 * 1024);
    const lengths = cutPointLengths(gear, SMALL, data);
    assert.deepEqual(naiveChunkLengths(naiveGear(GOLDEN_SEED), SMALL, data), lengths);
    assert.equal(lengths.length, GOLDEN_SMALL_COUNT);
    assert.equal(sha256(lengths.join(",")), GOLDEN_SMALL_LENGTHS_SHA256);
    // Both masks cut somewhere, so the vector covers both loops (a max cut is too rare in
    // random data; the hand-made gear tables below cover it).
    assert.ok(lengths.some((l) => l <= SMALL.avg));
    assert.ok(lengths.some((l) => l > SMALL.avg));
  });
});

// ---- The cut rule on hand-made gear tables ----

describe("cutPoint", () => {
  const params = SMALL;

  it("with an all-zero gear table every chunk is min + 1 bytes (cut after the first hashed byte)", () => {
    const zero = new Uint32Array(256);
    const data = new Uint8Array(1000);
    assert.equal(cutPoint(zero, params, data, 0, 1000, false), params.min + 1);
    assert.equal(cutPoint(zero, params, data, 500, 1000, false), params.min + 1);
    assert.equal(cutPoint(zero, params, data, 0, params.min, false), -1);
    assert.equal(cutPoint(zero, params, data, 0, params.min + 1, false), params.min + 1);
  });

  it("with a gear table that never matches, chunks are max bytes, the last one the rest", () => {
    // h = 2h + 2^31 (mod 2^32) is 2^31 from the first byte on: the top bit stays set.
    const never = new Uint32Array(256).fill(0x80000000);
    const data = new Uint8Array(2500);
    assert.equal(cutPoint(never, params, data, 0, 2500, false), params.max);
    assert.equal(cutPoint(never, params, data, 2048, 2500, false), -1);
    assert.equal(cutPoint(never, params, data, 2048, 2500, true), 452);
    assert.equal(cutPoint(never, params, data, 0, params.max, false), params.max);
    assert.deepEqual(cutPointLengths(never, params, data), [1024, 1024, 452]);
  });

  it("up to min bytes are one chunk when final, undecided otherwise; nothing is 0", () => {
    const gear = gearTable(GOLDEN_SEED);
    const data = new Uint8Array(params.min);
    assert.equal(cutPoint(gear, params, data, 0, params.min, true), params.min);
    assert.equal(cutPoint(gear, params, data, 0, params.min, false), -1);
    assert.equal(cutPoint(gear, params, data, 10, 20, true), 10);
    assert.equal(cutPoint(gear, params, data, 5, 5, true), 0);
  });

  it("a cut decided without final does not change when more data follows", () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(4000), fc.nat(4000), (seed, prefix, total) => {
        const gear = gearTable(pseudoRandom(seed, 32));
        const data = pseudoRandom(seed ^ 0x5555, Math.max(prefix, total));
        const early = cutPoint(gear, params, data, 0, Math.min(prefix, total), false);
        const late = cutPoint(gear, params, data, 0, data.length, true);
        assert.ok(early === -1 || early === late);
      }),
    );
  });

  it("rejects out-of-range arguments", () => {
    const gear = gearTable(GOLDEN_SEED);
    const data = new Uint8Array(10);
    assert.throws(() => cutPoint(gear, params, data, -1, 5, true), RangeError);
    assert.throws(() => cutPoint(gear, params, data, 6, 5, true), RangeError);
    assert.throws(() => cutPoint(gear, params, data, 0, 11, true), RangeError);
    assert.throws(() => cutPoint(gear, params, data, 0.5, 5, true), RangeError);
    assert.throws(() => cutPoint(new Uint32Array(255), params, data, 0, 5, true), /256/);
  });
});

// ---- Properties of the streaming chunker ----

/** Inputs: random, low-entropy (4 symbols) and constant, sized around the small parameters. */
const inputArb = fc
  .record({
    seed: fc.integer(),
    length: fc.nat(12_000),
    alphabet: fc.constantFrom(256, 4, 1),
  })
  .map(({ seed, length, alphabet }) => pseudoRandom(seed, length, alphabet));
const splitsArb = fc.array(fc.nat(12_000), { maxLength: 40 });

describe("Chunker", () => {
  it("chunks concatenate to the input, within min..max except a shorter last one", () => {
    fc.assert(
      fc.property(fc.integer(), inputArb, splitsArb, (gearSeed, data, splits) => {
        const gear = gearTable(pseudoRandom(gearSeed, 32));
        const chunks = chunkInPieces(new Chunker(gear, SMALL), data, splits);
        assert.deepEqual(concat(chunks), Buffer.from(data));
        chunks.forEach((chunk, i) => {
          assert.ok(chunk.length <= SMALL.max);
          assert.ok(chunk.length >= (i === chunks.length - 1 ? 1 : SMALL.min));
        });
      }),
    );
  });

  it("does not depend on how the input is split into push() calls", () => {
    fc.assert(
      fc.property(fc.integer(), inputArb, splitsArb, (gearSeed, data, splits) => {
        const gear = gearTable(pseudoRandom(gearSeed, 32));
        const whole = lengthsOf(chunkInPieces(new Chunker(gear, SMALL), data));
        const pieces = lengthsOf(chunkInPieces(new Chunker(gear, SMALL), data, splits));
        assert.deepEqual(pieces, whole);
        assert.deepEqual(whole, cutPointLengths(gear, SMALL, data));
      }),
    );
  });

  it("re-synchronises after an insertion: most chunks after the edit are unchanged", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer(),
        fc.integer({ min: 16_000, max: 32_000 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        (gearSeed, dataSeed, at, inserted) => {
          const { later, lost } = insertionLoss(gearSeed, dataSeed, 64_000, at, inserted);
          // With ~100 boundaries after the edit, losing half would take a freak input.
          assert.ok(lost < later / 2, `${lost} of ${later} boundaries lost after the edit`);
        },
      ),
    );
  });

  it("re-synchronises after an insertion within ~1.5 chunks on average", () => {
    // Fixed inputs: the number of boundaries lost has a long geometric tail (FastCDC skips the
    // first min bytes of each chunk, so two offset chains can leapfrog for a while), so a single
    // run may lose 10 or more; the mean over many runs is stable (1.4 measured over 5000).
    let lost = 0;
    const runs = 200;
    for (let run = 0; run < runs; run++) {
      const at = 8_000 + ((run * 7919) % 16_000);
      const inserted = pseudoRandom(run + 1_000_000, 1 + (run % 300));
      lost += insertionLoss(run, run + 5_000, 32_000, at, inserted).lost;
    }
    assert.ok(lost / runs <= 3, `mean ${lost / runs} boundaries lost`);
  });

  it("input up to min bytes is one chunk; empty input is none", async () => {
    const gear = gearTable(GOLDEN_SEED);
    for (const params of [SMALL, DEFAULT_CHUNKER_PARAMS]) {
      for (const size of [1, 17, params.min - 1, params.min]) {
        const data = pseudoRandom(size, size);
        const chunks = chunkInPieces(new Chunker(gear, params), data, [size >> 1]);
        assert.deepEqual(chunks, [data]);
      }
      assert.deepEqual(chunkInPieces(new Chunker(gear, params), new Uint8Array(0)), []);
      assert.deepEqual(new Chunker(gear, params).finish(), []);
      async function* nothing(): AsyncGenerator<Uint8Array> {}
      assert.deepEqual(await collect(chunkStream(nothing(), gear, params)), []);
    }
  });

  it("returns plain Uint8Arrays that own their ArrayBuffer, and keeps no reference to inputs", () => {
    const gear = gearTable(GOLDEN_SEED);
    const data = pseudoRandom(7, 20_000);
    const expected = cutPointLengths(gear, SMALL, data);
    const chunker = new Chunker(gear, SMALL);
    const chunks: Uint8Array[] = [];
    const scratch = Buffer.alloc(1_000);
    for (let at = 0; at < data.length; at += scratch.length) {
      scratch.set(data.subarray(at, at + scratch.length));
      chunks.push(...chunker.push(scratch));
      scratch.fill(0xaa); // the caller reuses its buffer
    }
    chunks.push(...chunker.finish());
    assert.deepEqual(lengthsOf(chunks), expected);
    assert.deepEqual(concat(chunks), Buffer.from(data));
    for (const chunk of chunks) {
      assert.equal(Object.getPrototypeOf(chunk), Uint8Array.prototype);
      assert.equal(chunk.byteOffset, 0);
      assert.equal(chunk.buffer.byteLength, chunk.length);
    }
  });

  it("returns each chunk from the push that decides it", () => {
    const never = new Uint32Array(256).fill(0x80000000);
    const chunker = new Chunker(never, SMALL);
    assert.deepEqual(lengthsOf(chunker.push(new Uint8Array(SMALL.max - 1))), []);
    assert.deepEqual(lengthsOf(chunker.push(new Uint8Array(1))), [SMALL.max]);
    const zero = new Chunker(new Uint32Array(256), SMALL);
    assert.deepEqual(lengthsOf(zero.push(new Uint8Array(SMALL.min))), []);
    assert.deepEqual(lengthsOf(zero.push(new Uint8Array(SMALL.min + 1))), [SMALL.min + 1]);
    assert.deepEqual(lengthsOf(zero.finish()), [SMALL.min]);
  });

  it("can be reused after finish()", () => {
    const gear = gearTable(GOLDEN_SEED);
    const a = pseudoRandom(1, 5_000);
    const b = pseudoRandom(2, 5_000);
    const chunker = new Chunker(gear, SMALL);
    chunkInPieces(chunker, a, [1234]);
    assert.deepEqual(lengthsOf(chunkInPieces(chunker, b, [777])), cutPointLengths(gear, SMALL, b));
  });
});

// ---- Validation ----

describe("validation", () => {
  it("accepts the defaults and the small test parameters", () => {
    validateChunkerParams(DEFAULT_CHUNKER_PARAMS);
    validateChunkerParams(SMALL);
  });

  it("rejects invalid parameters with a message naming the problem", () => {
    const gear = gearTable(GOLDEN_SEED);
    const cases: [ChunkerParams, RegExp][] = [
      [{ min: 64.5, avg: 256, max: 1024 }, /min must be an integer/],
      [{ min: 64, avg: Number.NaN, max: 1024 }, /avg must be an integer/],
      [{ min: 64, avg: 256, max: Infinity }, /max must be an integer/],
      [{ min: 32, avg: 256, max: 1024 }, /min must be at least 64/],
      [{ min: 256, avg: 256, max: 1024 }, /min < avg < max/],
      [{ min: 64, avg: 1024, max: 1024 }, /min < avg < max/],
      [{ min: 64, avg: 2048, max: 1024 }, /min < avg < max/],
      [{ min: 64, avg: 300, max: 1024 }, /avg must be a power of two/],
      [{ min: 64, avg: 2 ** 30, max: 2 ** 31 }, /max must be at most/],
    ];
    for (const [params, message] of cases) {
      assert.throws(() => {
        validateChunkerParams(params);
      }, message);
      assert.throws(() => new Chunker(gear, params), message);
      assert.throws(() => cutPoint(gear, params, new Uint8Array(0), 0, 0, true), message);
    }
  });

  it("gearTable needs a 32-byte seed", () => {
    assert.throws(() => gearTable(new Uint8Array(31)), /32 bytes/);
    assert.throws(() => gearTable(new Uint8Array(33)), /32 bytes/);
  });
});
