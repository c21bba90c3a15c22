import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { openSecret, sealSecret } from "./secrets.ts";

const key = randomBytes(32);
const SECRET = "hunter2-correct-horse";
const CONTEXT = "destination:1:password";

function refusesWithoutLeaking(run: () => unknown, context: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, new RegExp(context));
    assert.ok(!error.message.includes(SECRET));
    assert.ok(!error.message.includes(key.toString("base64")));
    return true;
  });
}

describe("sealed secrets", () => {
  it("round-trip with a fresh nonce each time", () => {
    const a = sealSecret(key, SECRET, CONTEXT);
    const b = sealSecret(key, SECRET, CONTEXT);
    assert.match(a, /^v1:[A-Za-z0-9+/]+=*$/);
    assert.notEqual(a, b);
    assert.ok(!a.includes(SECRET));
    assert.equal(openSecret(key, a, CONTEXT), SECRET);
    assert.equal(openSecret(key, sealSecret(key, "", CONTEXT), CONTEXT), "");
    assert.equal(openSecret(key, sealSecret(key, "pässwörd ✓", CONTEXT), CONTEXT), "pässwörd ✓");
  });

  it("refuse the wrong key, naming the context but not the secret", () => {
    const sealed = sealSecret(key, SECRET, CONTEXT);
    refusesWithoutLeaking(() => openSecret(randomBytes(32), sealed, CONTEXT), CONTEXT);
  });

  it("refuse another context (a value moved to another row)", () => {
    const sealed = sealSecret(key, SECRET, CONTEXT);
    refusesWithoutLeaking(() => openSecret(key, sealed, "destination:2:password"), "destination:2");
  });

  it("refuse tampering anywhere in nonce, ciphertext or tag", () => {
    const sealed = sealSecret(key, SECRET, CONTEXT);
    const bytes = Buffer.from(sealed.slice(3), "base64");
    for (const index of [0, 12, bytes.length - 1]) {
      const copy = Buffer.from(bytes);
      copy[index] = (copy[index] ?? 0) ^ 1;
      refusesWithoutLeaking(
        () => openSecret(key, `v1:${copy.toString("base64")}`, CONTEXT),
        CONTEXT,
      );
    }
    refusesWithoutLeaking(() => openSecret(key, "v1:AAAA", CONTEXT), CONTEXT);
    refusesWithoutLeaking(() => openSecret(key, `v9:${sealed.slice(3)}`, CONTEXT), CONTEXT);
  });

  it("refuse a key that is not 32 bytes", () => {
    assert.throws(() => sealSecret(randomBytes(16), SECRET, CONTEXT), /32 bytes/);
  });
});
