import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from "node:crypto";
import { describe, it } from "node:test";
import { isStorageError } from "../errors.ts";
import { parsePrivateKey } from "./key-file.ts";

/** The ssh2 key signs; Node's own public key must verify the signature. */
function assertSameKey(text: string, publicKey: KeyObject, passphrase?: string): void {
  const parsed = parsePrivateKey(text, "test-key", passphrase);
  assert.ok(parsed.isPrivateKey());
  const data = Buffer.from("ferry");
  const signature = parsed.sign(data);
  const type = publicKey.asymmetricKeyType;
  if (type === "ed25519") {
    assert.ok(verify(null, data, publicKey, signature));
  } else {
    // ssh2's signatures for rsa and ecdsa are SSH-encoded; check with ssh2's own verify instead.
    assert.ok(parsed.verify(data, signature));
    const pem = createPublicKey(parsed.getPublicPEM()).export({ format: "der", type: "spki" });
    assert.ok(pem.equals(publicKey.export({ format: "der", type: "spki" })));
  }
}

describe("private key files", () => {
  it("reads PKCS#8 ed25519 keys, which ssh2 alone cannot (ssh2#1303)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    assertSameKey(privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKey);
  });

  it("reads encrypted PKCS#8 keys with the passphrase", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const text = privateKey
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" })
      .toString();
    assertSameKey(text, publicKey, "s3cret");
  });

  it("reads PKCS#8 rsa and ecdsa keys, and classic PEM ones", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    assertSameKey(
      rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      rsa.publicKey,
    );
    assertSameKey(
      rsa.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      rsa.publicKey,
    );
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    assertSameKey(ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), ec.publicKey);
    assertSameKey(ec.privateKey.export({ type: "sec1", format: "pem" }).toString(), ec.publicKey);
  });

  it("says a passphrase is needed for an encrypted key without one (AUTH)", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const text = privateKey
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" })
      .toString();
    assert.throws(
      () => parsePrivateKey(text, "/keys/id"),
      (error: unknown) =>
        isStorageError(error, "AUTH") &&
        /"\/keys\/id" is encrypted: a passphrase is needed/.test(error.message),
    );
  });

  it("says the passphrase is wrong (AUTH), without quoting it", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const text = privateKey
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" })
      .toString();
    assert.throws(
      () => parsePrivateKey(text, "/keys/id", "wrong-one"),
      (error: unknown) =>
        isStorageError(error, "AUTH") &&
        /passphrase is probably wrong/.test(error.message) &&
        !error.message.includes("wrong-one"),
    );
  });

  it("refuses a public key or garbage with INVALID", () => {
    assert.throws(
      () =>
        parsePrivateKey(
          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWHhxBOKSckD8qbGAPrZ/lr3cJVVOCKntfSLdEJ2wDz x",
          "/k.pub",
        ),
      (error: unknown) =>
        isStorageError(error, "INVALID") && /holds a public key/.test(error.message),
    );
    assert.throws(
      () => parsePrivateKey("hello", "/k"),
      (error: unknown) =>
        isStorageError(error, "INVALID") && /not a private key/.test(error.message),
    );
  });
});
