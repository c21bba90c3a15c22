import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isStorageError } from "../errors.ts";
import {
  chooseDataHost,
  formatEprtArgument,
  formatPortArgument,
  isUnroutable,
  parseEpsvReply,
  parsePasvReply,
} from "./data-address.ts";

void describe("PASV/EPSV replies", () => {
  void test("PASV", () => {
    assert.deepEqual(parsePasvReply("227 Entering Passive Mode (192,168,1,100,10,229)."), {
      host: "192.168.1.100",
      port: 10 * 256 + 229,
    });
    assert.deepEqual(parsePasvReply("227 Entering Passive Mode 127,0,0,1,117,48"), {
      host: "127.0.0.1",
      port: 30000,
    });
    assert.equal(parsePasvReply("227 Entering Passive Mode (300,1,1,1,1,1)"), undefined);
    assert.equal(parsePasvReply("227 nonsense"), undefined);
  });

  void test("EPSV", () => {
    assert.equal(parseEpsvReply("229 Entering Extended Passive Mode (|||6446|)"), 6446);
    assert.equal(parseEpsvReply("229 Extended Passive mode OK (|||24019|)"), 24019);
    assert.equal(parseEpsvReply("229 Entering Extended Passive Mode (!!!6446!)"), 6446);
    assert.equal(parseEpsvReply("229 Entering Extended Passive Mode (|||0|)"), undefined);
    assert.equal(parseEpsvReply("229 (|||99999|)"), undefined);
  });
});

void describe("data host policy", () => {
  const auto = { passiveAddress: "auto", allowForeignDataHost: false } as const;

  void test("unroutable addresses", () => {
    for (const a of [
      "10.0.0.1",
      "172.16.5.5",
      "192.168.1.1",
      "127.0.0.1",
      "0.0.0.0",
      "169.254.1.1",
      "100.64.0.1",
      "fd00::1",
      "fe80::1",
      "::1",
    ]) {
      assert.equal(isUnroutable(a), true, a);
    }
    for (const a of ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.4.4"])
      assert.equal(isUnroutable(a), false, a);
  });

  void test("auto: the named address when it is the control peer", () => {
    assert.deepEqual(chooseDataHost("203.0.113.5", "::ffff:203.0.113.5", auto), {
      host: "203.0.113.5",
    });
  });

  void test("auto: a private address behind NAT becomes the control peer", () => {
    assert.equal(chooseDataHost("192.168.1.10", "203.0.113.5", auto).host, "203.0.113.5");
  });

  void test("auto: never a foreign public host (bounce/SSRF), unless allowed", () => {
    assert.equal(chooseDataHost("198.51.100.7", "203.0.113.5", auto).host, "203.0.113.5");
    assert.equal(
      chooseDataHost("198.51.100.7", "203.0.113.5", { ...auto, allowForeignDataHost: true }).host,
      "198.51.100.7",
    );
    assert.equal(
      chooseDataHost("10.0.0.7", "203.0.113.5", { ...auto, allowForeignDataHost: true }).host,
      "203.0.113.5",
    );
  });

  void test("control: always the control peer", () => {
    assert.equal(
      chooseDataHost("198.51.100.7", "203.0.113.5", {
        passiveAddress: "control",
        allowForeignDataHost: true,
      }).host,
      "203.0.113.5",
    );
  });

  void test("server: the named address only when it is the peer or allowed", () => {
    const server = { passiveAddress: "server", allowForeignDataHost: false } as const;
    assert.equal(chooseDataHost("203.0.113.5", "203.0.113.5", server).host, "203.0.113.5");
    assert.throws(
      () => chooseDataHost("198.51.100.7", "203.0.113.5", server),
      (error: unknown) =>
        isStorageError(error, "INVALID") && /passiveAddress=control/.test(error.message),
    );
    assert.equal(
      chooseDataHost("198.51.100.7", "203.0.113.5", { ...server, allowForeignDataHost: true }).host,
      "198.51.100.7",
    );
  });

  void test("PORT and EPRT arguments", () => {
    assert.equal(formatPortArgument("::ffff:192.168.1.2", 40_001), "192,168,1,2,156,65");
    assert.equal(formatEprtArgument("2001:db8::1", 40_001), "|2|2001:db8::1|40001|");
    assert.equal(formatEprtArgument("10.0.0.1", 21), "|1|10.0.0.1|21|");
  });
});
