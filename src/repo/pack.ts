/**
 * Pack files: sealed blobs back to back, then the sealed header, then the header's length as a
 * 4-byte little-endian integer (docs/format.md, "Packs").
 */
import { seal, open, type AeadName } from "./crypto.ts";
import { RepoError } from "./errors.ts";

/** Blob types. Trees go to their own packs so caches can hold them whole. */
export type BlobType = "data" | "tree";
const TYPE_BYTE: Record<BlobType, number> = { data: 0, tree: 1 };

/** One blob's entry in a pack header, with its offset in the pack. */
export interface PackedBlob {
  type: BlobType;
  /** 32-byte blob id (HMAC of the plaintext). */
  id: Uint8Array;
  offset: number;
  /** Sealed length in the pack. */
  length: number;
  /** Plaintext length (before compression). */
  rawLength: number;
}

const HEADER_MAGIC = Uint8Array.from([0x66, 0x70, 0x68, 0x01]); // "fph" v1
const ENTRY_LENGTH = 1 + 32 + 4 + 4;
const HEADER_AD = new TextEncoder().encode("ferry/pack-header");

/** Associated data of a blob: its id and type, so a server cannot swap blobs around. */
export function blobAd(type: BlobType, id: Uint8Array): Uint8Array {
  const ad = new Uint8Array(33);
  ad.set(id, 0);
  ad[32] = TYPE_BYTE[type];
  return ad;
}

/** Encodes a header's plaintext. */
export function encodeHeader(blobs: readonly PackedBlob[]): Buffer {
  const out = Buffer.alloc(HEADER_MAGIC.length + blobs.length * ENTRY_LENGTH);
  out.set(HEADER_MAGIC, 0);
  let at = HEADER_MAGIC.length;
  for (const blob of blobs) {
    out[at] = TYPE_BYTE[blob.type];
    out.set(blob.id, at + 1);
    out.writeUInt32LE(blob.length, at + 33);
    out.writeUInt32LE(blob.rawLength, at + 37);
    at += ENTRY_LENGTH;
  }
  return out;
}

/** Decodes a header's plaintext; offsets follow from the lengths, starting at 0. */
export function decodeHeader(plain: Uint8Array, what: string): PackedBlob[] {
  const buf = Buffer.from(plain.buffer, plain.byteOffset, plain.length);
  if (buf.length < HEADER_MAGIC.length || !HEADER_MAGIC.every((b, i) => buf[i] === b)) {
    throw new RepoError("DAMAGED", `${what} has no valid pack header.`);
  }
  if ((buf.length - HEADER_MAGIC.length) % ENTRY_LENGTH !== 0) {
    throw new RepoError("DAMAGED", `${what} has a pack header of odd length.`);
  }
  const blobs: PackedBlob[] = [];
  let offset = 0;
  for (let at = HEADER_MAGIC.length; at < buf.length; at += ENTRY_LENGTH) {
    const typeByte = buf[at];
    if (typeByte !== 0 && typeByte !== 1) {
      throw new RepoError("DAMAGED", `${what} has a blob of unknown type ${String(typeByte)}.`);
    }
    const length = buf.readUInt32LE(at + 33);
    blobs.push({
      type: typeByte === 0 ? "data" : "tree",
      id: Uint8Array.prototype.slice.call(buf, at + 1, at + 33),
      offset,
      length,
      rawLength: buf.readUInt32LE(at + 37),
    });
    offset += length;
  }
  return blobs;
}

/** The sealed header plus its 4-byte length: the tail appended to a pack. */
export function sealHeader(aead: AeadName, key: Uint8Array, blobs: readonly PackedBlob[]): Buffer {
  const sealed = seal(aead, key, [encodeHeader(blobs)], HEADER_AD);
  const tail = Buffer.alloc(sealed.length + 4);
  tail.set(sealed, 0);
  tail.writeUInt32LE(sealed.length, sealed.length);
  return tail;
}

/**
 * Reads the blobs of a whole pack from its bytes, checking that the header covers exactly the
 * bytes in front of it.
 */
export function parsePack(key: Uint8Array, pack: Uint8Array, what: string): PackedBlob[] {
  if (pack.length < 4)
    throw new RepoError("DAMAGED", `${what} is truncated (${pack.length} bytes).`);
  const view = Buffer.from(pack.buffer, pack.byteOffset, pack.length);
  const headerLength = view.readUInt32LE(pack.length - 4);
  if (headerLength + 4 > pack.length) {
    throw new RepoError(
      "DAMAGED",
      `${what} is truncated: its header length points before its start.`,
    );
  }
  const headerStart = pack.length - 4 - headerLength;
  const blobs = decodeHeader(
    open(key, view.subarray(headerStart, pack.length - 4), HEADER_AD, `${what} header`),
    what,
  );
  const end = blobs.reduce((sum, b) => sum + b.length, 0);
  if (end !== headerStart) {
    throw new RepoError(
      "DAMAGED",
      `${what}: its header describes ${end} bytes of blobs but ${headerStart} are there.`,
    );
  }
  return blobs;
}
