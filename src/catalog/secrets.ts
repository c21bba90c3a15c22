import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { CatalogError } from "./errors.ts";

const VERSION = "v1";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) {
    throw new CatalogError("SECRET", `The master key must be ${KEY_BYTES} bytes`);
  }
}

/**
 * Encrypts a secret with AES-256-GCM under the master key, binding it to `context` (for example
 * `destination:7:password`) so a sealed value copied to another row or name does not open.
 * Returns `v1:<base64 of nonce | ciphertext | tag>`.
 */
export function sealSecret(key: Uint8Array, plaintext: string, context: string): string {
  checkKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const sealed = Buffer.concat([nonce, body, cipher.getAuthTag()]);
  return `${VERSION}:${sealed.toString("base64")}`;
}

/** Decrypts what {@link sealSecret} produced for the same key and context; errors name the context only. */
export function openSecret(key: Uint8Array, sealed: string, context: string): string {
  checkKey(key);
  const colon = sealed.indexOf(":");
  const version = colon < 0 ? "" : sealed.slice(0, colon);
  if (version !== VERSION) {
    throw new CatalogError(
      "SECRET",
      `The secret for ${context} is in an unknown format (expected "${VERSION}:"); a newer ferry may have written it`,
    );
  }
  const bytes = Buffer.from(sealed.slice(colon + 1), "base64");
  if (bytes.length < NONCE_BYTES + TAG_BYTES) {
    throw new CatalogError("SECRET", `The secret for ${context} is truncated or corrupt`);
  }
  const nonce = bytes.subarray(0, NONCE_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const body = bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    // The cause is deliberately dropped: nothing from the decryption attempt goes into the error.
    throw new CatalogError(
      "SECRET",
      `Cannot decrypt the secret for ${context}: the master key is not the one it was sealed with, or the catalog was modified`,
    );
  }
}
