import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HOST_KEY_ORDER, algorithmList, sshAlgorithms } from "./algorithms.ts";

describe("algorithms setting", () => {
  it("passes a plain list through as a full replacement", () => {
    assert.deepEqual(algorithmList(["aes128-ctr", "aes256-ctr"]), ["aes128-ctr", "aes256-ctr"]);
  });

  it("turns +name, ^name and -name into ssh2 edits of its defaults", () => {
    assert.deepEqual(algorithmList(["+ssh-dss", "^aes256-ctr", "-hmac-sha1"]), {
      append: ["ssh-dss"],
      prepend: ["aes256-ctr"],
      remove: ["hmac-sha1"],
    });
  });

  it("refuses a mix of plain names and edits", () => {
    assert.throws(
      () => algorithmList(["aes128-ctr", "+aes256-ctr"]),
      /either a full list or only edits/,
    );
  });

  it("maps cipher, kex, hmac and serverHostKey onto ssh2's names", () => {
    const algorithms = sshAlgorithms({
      cipher: ["aes256-ctr"],
      kex: ["+diffie-hellman-group14-sha1"],
      hmac: ["hmac-sha2-256"],
      serverHostKey: ["ssh-ed25519"],
    });
    assert.deepEqual(algorithms.cipher, ["aes256-ctr"]);
    assert.deepEqual(algorithms.kex, {
      append: ["diffie-hellman-group14-sha1"],
      prepend: [],
      remove: [],
    });
    assert.deepEqual(algorithms.hmac, ["hmac-sha2-256"]);
    assert.deepEqual(algorithms.serverHostKey, ["ssh-ed25519"]);
  });

  it("pins the host key order, putting known_hosts' types first", () => {
    assert.deepEqual(sshAlgorithms(undefined).serverHostKey, HOST_KEY_ORDER);
    assert.equal(sshAlgorithms(undefined).cipher, undefined, "ssh2's defaults for the rest");
    const preferred = sshAlgorithms(undefined, [
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
    ]).serverHostKey;
    assert.deepEqual((preferred as string[]).slice(0, 4), [
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
      "ssh-ed25519",
    ]);
  });

  it("applies serverHostKey edits to the pinned order", () => {
    const list = sshAlgorithms({
      serverHostKey: ["+ssh-dss", "-ssh-rsa", "^rsa-sha2-256"],
    }).serverHostKey;
    assert.deepEqual(list, [
      "rsa-sha2-256",
      "ssh-ed25519",
      "ecdsa-sha2-nistp256",
      "ecdsa-sha2-nistp384",
      "ecdsa-sha2-nistp521",
      "rsa-sha2-512",
      "ssh-dss",
    ]);
  });
});
