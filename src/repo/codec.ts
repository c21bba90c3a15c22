/**
 * Plaintext framing under the AEAD: one flag byte (0 raw, 1 zstd) then the payload. Compression
 * is kept only when it shrinks the payload.
 */
import { constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { RepoError } from "./errors.ts";

export const FLAG_RAW = 0;
export const FLAG_ZSTD = 1;

/** Default zstd level: fast, and within a few percent of level 9 on backup data. */
export const DEFAULT_ZSTD_LEVEL = 3;

/** `[flag byte, payload]`, compressed when that helps and `level` > 0. */
export function frame(data: Uint8Array, level: number): [Uint8Array, Uint8Array] {
  if (level > 0 && data.length >= 64) {
    const packed = zstdCompressSync(data, {
      params: { [constants.ZSTD_c_compressionLevel]: level },
    });
    if (packed.length < data.length) return [Uint8Array.of(FLAG_ZSTD), packed];
  }
  return [Uint8Array.of(FLAG_RAW), data];
}

/**
 * The payload of a framed plaintext. `expectedLength`, when given, bounds decompression so a
 * hostile object cannot expand without limit.
 */
export function unframe(plain: Uint8Array, what: string, expectedLength?: number): Buffer {
  const flag = plain[0];
  const payload = plain.subarray(1);
  if (flag === FLAG_RAW) return Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  if (flag === FLAG_ZSTD) {
    try {
      const limit = expectedLength ?? 1 << 30;
      const out = zstdDecompressSync(payload, { maxOutputLength: Math.max(limit, 1) });
      if (expectedLength !== undefined && out.length !== expectedLength) {
        throw new Error(`length ${out.length}, expected ${expectedLength}`);
      }
      return out;
    } catch (error) {
      throw new RepoError("DAMAGED", `${what} does not decompress.`, { cause: error });
    }
  }
  throw new RepoError("DAMAGED", `${what} has unknown framing ${String(flag)}.`);
}
