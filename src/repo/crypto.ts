/**
 * Authenticated encryption and keyed hashing: the only place that touches ciphers. Sealed
 * objects are `algorithm (1 byte) ‖ nonce (12) ‖ ciphertext ‖ tag (16)` (docs/format.md).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import { RepoError } from "./errors.ts";

/** The AEADs a repository may use; the byte is stored in front of every sealed object. */
export const AEADS = { "aes-256-gcm": 1, "chacha20-poly1305": 2 } as const;
export type AeadName = keyof typeof AEADS;

const NAME_BY_BYTE = new Map<number, AeadName>([
  [1, "aes-256-gcm"],
  [2, "chacha20-poly1305"],
]);

export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;
/** Bytes a sealed object adds to its plaintext. */
export const SEAL_OVERHEAD = 1 + NONCE_LENGTH + TAG_LENGTH;

/** The secrets of one repository; wrapped by each password's key file. */
export interface MasterKeys {
  /** AEAD key for every blob and file (32 bytes). */
  encryption: Uint8Array;
  /** HMAC-SHA-256 key for blob ids (32 bytes). */
  mac: Uint8Array;
  /** Seed of the chunker's gear table (32 bytes). */
  chunker: Uint8Array;
}

const keyObjects = new WeakMap<Uint8Array, KeyObject>();

/**
 * The KeyObject for key bytes, made once per key: Node prepares a Buffer key on every
 * createHmac/createCipheriv call, which measured 40 µs per call, more than sealing a 4 KiB blob.
 */
function keyObject(key: Uint8Array): KeyObject {
  let object = keyObjects.get(key);
  if (object === undefined) {
    object = createSecretKey(key);
    keyObjects.set(key, object);
  }
  return object;
}

/** Fresh random master keys for a new repository. */
export function newMasterKeys(): MasterKeys {
  return { encryption: randomBytes(32), mac: randomBytes(32), chunker: randomBytes(32) };
}

/**
 * Encrypts `parts` (concatenated) under `key` with a random 96-bit nonce; `ad` is authenticated
 * but not stored. Taking parts avoids copying a flag byte in front of a large payload.
 */
export function seal(
  aead: AeadName,
  key: Uint8Array,
  parts: readonly Uint8Array[],
  ad: Uint8Array,
  nonce: Uint8Array = randomBytes(NONCE_LENGTH),
): Buffer {
  // Both AEADs use a 16-byte tag; the literal union keeps TypeScript on the AEAD overloads.
  const cipher =
    aead === "aes-256-gcm"
      ? createCipheriv(aead, keyObject(key), nonce, { authTagLength: TAG_LENGTH })
      : createCipheriv(aead, keyObject(key), nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(ad);
  const out: Uint8Array[] = [Uint8Array.of(AEADS[aead]), nonce];
  for (const part of parts) out.push(cipher.update(part));
  out.push(cipher.final(), cipher.getAuthTag());
  return Buffer.concat(out);
}

/**
 * Decrypts and authenticates a sealed object. Throws DAMAGED (naming `what`) when it is too short,
 * names an unknown algorithm, or fails authentication: the bytes were changed, truncated, moved
 * to another name, or the key is wrong.
 */
export function open(key: Uint8Array, sealed: Uint8Array, ad: Uint8Array, what: string): Buffer {
  if (sealed.length < SEAL_OVERHEAD) {
    throw new RepoError("DAMAGED", `${what} is truncated (${sealed.length} bytes).`);
  }
  const aead = NAME_BY_BYTE.get(sealed[0] ?? 0);
  if (aead === undefined) {
    throw new RepoError("DAMAGED", `${what} names unknown cipher ${sealed[0] ?? 0}.`);
  }
  const nonce = sealed.subarray(1, 1 + NONCE_LENGTH);
  const tag = sealed.subarray(sealed.length - TAG_LENGTH);
  const decipher =
    aead === "aes-256-gcm"
      ? createDecipheriv(aead, keyObject(key), nonce, { authTagLength: TAG_LENGTH })
      : createDecipheriv(aead, keyObject(key), nonce, { authTagLength: TAG_LENGTH });
  decipher.setAAD(ad);
  decipher.setAuthTag(tag);
  const body = decipher.update(sealed.subarray(1 + NONCE_LENGTH, sealed.length - TAG_LENGTH));
  try {
    return Buffer.concat([body, decipher.final()]);
  } catch (error) {
    throw new RepoError(
      "DAMAGED",
      `${what} failed authentication: it was modified, truncated or written under another key.`,
      { cause: error },
    );
  }
}

/** The keyed id of a blob: HMAC-SHA-256 of its plaintext under the repository's mac key. */
export function blobId(macKey: Uint8Array, data: Uint8Array): Buffer {
  return createHmac("sha256", keyObject(macKey)).update(data).digest();
}
