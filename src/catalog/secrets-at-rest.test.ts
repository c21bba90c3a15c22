/**
 * The central promise: no secret reaches the disk in the clear. Store one of each kind,
 * then grep the raw bytes of catalog.db and its WAL for them.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openCatalog } from "./catalog.ts";
import { tempDir } from "./temp-dir.test-helper.ts";

const password = `pw-${randomBytes(12).toString("hex")}`;
const passphrase = `correct horse battery staple ${randomBytes(6).toString("hex")}`;
const privateKey = generateKeyPairSync("ed25519")
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
/** The key's base64 body line, which is what would leak even if the PEM armour did not. */
const privateKeyBody = privateKey.split("\n")[1] ?? "";

function onDisk(dir: string): Buffer[] {
  return ["catalog.db", "catalog.db-wal"]
    .map((file) => join(dir, file))
    .filter((path) => existsSync(path))
    .map((path) => readFileSync(path));
}

function assertNoSecretIn(files: Buffer[], when: string): void {
  for (const bytes of files) {
    for (const [label, secret] of Object.entries({
      password,
      passphrase,
      privateKey,
      privateKeyBody,
    })) {
      assert.ok(secret.length > 20, label);
      assert.ok(!bytes.includes(secret), `${label} found in the clear ${when}`);
      assert.ok(!bytes.includes(Buffer.from(secret, "utf16le")), `${label} (UTF-16) found ${when}`);
    }
  }
}

describe("secrets at rest", () => {
  it("never appear in catalog.db or its WAL", () => {
    const home = tempDir();
    const catalog = openCatalog({ env: { FERRY_HOME: home } });
    catalog.destinations.add({
      name: "nas",
      type: "sftp",
      settings: { host: "nas.local", user: "ann" },
      secrets: { password, passphrase, privateKey },
    });
    catalog.destinations.update("nas", { notes: "touched after adding" });
    const files = onDisk(home);
    assert.ok(files.length > 0);
    assertNoSecretIn(files, "before a checkpoint");

    catalog.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    assertNoSecretIn(onDisk(home), "after a checkpoint");
    // The test is only meaningful if the data did reach the file: the settings are plain.
    assert.ok(readFileSync(join(home, "catalog.db")).includes("nas.local"));

    assert.equal(catalog.destinations.secret("nas", "password"), password);
    assert.equal(catalog.destinations.secret("nas", "passphrase"), passphrase);
    assert.equal(catalog.destinations.secret("nas", "privateKey"), privateKey);
    catalog.close();
    assertNoSecretIn(onDisk(home), "after closing");

    const reopened = openCatalog({ env: { FERRY_HOME: home } });
    assert.equal(reopened.destinations.secret("nas", "privateKey"), privateKey);
    reopened.close();
  });

  it("do not open under another master key", () => {
    const home = tempDir();
    const env = { FERRY_HOME: home, FERRY_MASTER_KEY: randomBytes(32).toString("base64") };
    const catalog = openCatalog({ env });
    catalog.destinations.add({ name: "nas", type: "sftp", settings: {}, secrets: { password } });
    catalog.close();
    const other = openCatalog({
      env: { ...env, FERRY_MASTER_KEY: randomBytes(32).toString("hex") },
    });
    assert.throws(
      () => other.destinations.secret("nas", "password"),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /destination:\d+:password/);
        assert.ok(!error.message.includes(password));
        return true;
      },
    );
    other.close();
  });
});
