import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadMasterKey } from "./master-key.ts";
import { tempDir } from "./temp-dir.test-helper.ts";

const dir = tempDir();
const noEnv = {};

describe("master key", () => {
  it("comes from FERRY_MASTER_KEY as base64 or hex", () => {
    const key = randomBytes(32);
    const keyFile = join(dir, "unused.key");
    for (const form of [
      key.toString("base64"),
      key.toString("hex"),
      key.toString("hex").toUpperCase(),
    ]) {
      assert.deepEqual(loadMasterKey({ keyFile, env: { FERRY_MASTER_KEY: form } }), key);
    }
    assert.throws(() => statSync(keyFile), { code: "ENOENT" });
  });

  it("refuses a malformed FERRY_MASTER_KEY without echoing it", () => {
    const keyFile = join(dir, "unused.key");
    for (const bad of ["secret-ish-value", randomBytes(16).toString("base64"), "ab".repeat(31)]) {
      assert.throws(
        () => loadMasterKey({ keyFile, env: { FERRY_MASTER_KEY: bad } }),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, /FERRY_MASTER_KEY/);
          assert.match(error.message, /base64/);
          assert.match(error.message, /64 hex/);
          assert.ok(!error.message.includes(bad));
          return true;
        },
      );
    }
  });

  it("is created in master.key with mode 0600 on first use, then reused", () => {
    const keyFile = join(dir, "master.key");
    const first = loadMasterKey({ keyFile, env: noEnv });
    assert.equal(first.length, 32);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(readFileSync(keyFile, "utf8").trim(), first.toString("base64"));
    assert.deepEqual(loadMasterKey({ keyFile, env: noEnv }), first);
  });

  it("refuses a key file others can read, with the chmod fix", () => {
    const keyFile = join(dir, "open.key");
    writeFileSync(keyFile, randomBytes(32).toString("base64"));
    chmodSync(keyFile, 0o644);
    assert.throws(() => loadMasterKey({ keyFile, env: noEnv }), {
      message: new RegExp(`chmod 600 ${keyFile}`),
    });
    chmodSync(keyFile, 0o600);
    assert.equal(loadMasterKey({ keyFile, env: noEnv }).length, 32);
  });

  it("comes from a command's trimmed stdout, without stdin", () => {
    const key = randomBytes(32);
    const keyFile = join(dir, "unused.key");
    const fromCommand = (masterKeyCommand: string): Buffer =>
      loadMasterKey({ keyFile, masterKeyCommand, env: noEnv });
    assert.deepEqual(fromCommand(`printf '  %s\\n' ${key.toString("hex")}`), key);
    assert.deepEqual(fromCommand(`echo ${key.toString("base64")}`), key);
    // stdin is /dev/null, so a command reading it sees end of file at once rather than hanging.
    assert.throws(() => fromCommand("cat"), /master key command/);
    assert.throws(() => fromCommand("echo oops >&2; exit 3"), /failed[\s\S]*oops/);
    assert.throws(() => statSync(keyFile), { code: "ENOENT" });
  });

  it("prefers FERRY_MASTER_KEY over the command", () => {
    const key = randomBytes(32);
    const env = { FERRY_MASTER_KEY: key.toString("base64") };
    assert.deepEqual(
      loadMasterKey({ keyFile: join(dir, "x"), masterKeyCommand: "exit 1", env }),
      key,
    );
  });
});
