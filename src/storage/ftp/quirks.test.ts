import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatFtpTime, mtimeCommand, mtimeMethods } from "./mtime.ts";
import { detectServer, isTruncated, parseAvbl, parseFeat, quirksOf } from "./quirks.ts";

void describe("server recognition and quirks", () => {
  void test("FEAT", () => {
    const feat = parseFeat({
      code: 211,
      message: "211-Features:\n MDTM\n MFMT\n MLST type*;size*;modify*;\n UTF8\n211 End",
    });
    assert.deepEqual(feat.lines, ["MDTM", "MFMT", "MLST type*;size*;modify*;", "UTF8"]);
    assert.equal(feat.map.get("MLST"), "type*;size*;modify*;");
    assert.equal(parseFeat({ code: 500, message: "500 FEAT not understood" }).lines.length, 0);
  });

  void test("banners", () => {
    assert.equal(detectServer("220 (vsFTPd 3.0.3)"), "vsftpd");
    assert.equal(detectServer("220 ProFTPD Server (x) [127.0.0.1]"), "proftpd");
    assert.equal(
      detectServer("220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------"),
      "pureftpd",
    );
    assert.equal(detectServer("220 Microsoft FTP Service"), "iis");
    assert.equal(detectServer("220 ready", "215 UNIX Type: L8"), "unknown");
  });

  void test("quirks as named switches", () => {
    assert.equal(quirksOf("vsftpd", true).mdtmWrite, true);
    assert.equal(quirksOf("vsftpd", true).listNeedsDashA, true);
    assert.equal(quirksOf("pureftpd", true).listLimit, 9_997);
    assert.equal(quirksOf("iis", false).atomicReplace, false);
    assert.equal(quirksOf("unknown", true).atomicReplace, true);
  });

  void test("truncated listings", () => {
    assert.equal(
      isTruncated(
        { code: 226, message: "226 Output truncated to 10000 matches" },
        10_000,
        "pureftpd",
      ),
      true,
    );
    assert.equal(
      isTruncated(
        { code: 226, message: "226-Options: -a -l\n226 2000 matches total" },
        2000,
        "pureftpd",
      ),
      true,
    );
    assert.equal(
      isTruncated({ code: 226, message: "226 2000 matches total" }, 2000, "unknown"),
      true,
    );
    assert.equal(
      isTruncated({ code: 226, message: "226 Transfer complete" }, 2000, "vsftpd"),
      false,
    );
    assert.equal(isTruncated({ code: 226, message: "226 3 matches total" }, 3, "pureftpd"), false);
  });

  void test("AVBL", () => {
    assert.equal(parseAvbl({ code: 213, message: "213 123456789" }), 123_456_789);
    assert.equal(parseAvbl({ code: 502, message: "502 no" }), undefined);
  });
});

void describe("modification times", () => {
  const date = new Date("2024-01-02T03:04:05.678Z");
  void test("format", () => {
    assert.equal(formatFtpTime(date), "20240102030405");
  });
  void test("methods by what the server offers", () => {
    const feat = (names: string[]) =>
      parseFeat({ code: 211, message: `211-F\n${names.map((n) => ` ${n}`).join("\n")}\n211 End` });
    assert.deepEqual(mtimeMethods(feat(["MFMT"]), quirksOf("proftpd", true), undefined), ["MFMT"]);
    assert.deepEqual(mtimeMethods(feat([]), quirksOf("vsftpd", true), undefined), ["MDTM"]);
    assert.deepEqual(
      mtimeMethods(
        feat([]),
        quirksOf("unknown", true),
        "214-The following SITE commands are recognized\n UTIME CHMOD\n214 ok",
      ),
      ["SITE UTIME 5", "SITE UTIME"],
    );
    assert.deepEqual(mtimeMethods(feat([]), quirksOf("unknown", true), undefined), []);
    assert.deepEqual(
      mtimeMethods(feat(["MFMT", "SITE UTIME"]), quirksOf("proftpd", true), undefined),
      ["MFMT", "SITE UTIME 5", "SITE UTIME"],
    );
  });
  void test("commands", () => {
    assert.deepEqual(mtimeCommand("MFMT", "/a b", date), {
      verb: "MFMT",
      arg: "20240102030405 /a b",
    });
    assert.deepEqual(mtimeCommand("MDTM", "/a", date), { verb: "MDTM", arg: "20240102030405 /a" });
    assert.deepEqual(mtimeCommand("SITE UTIME 5", "/a", date), {
      verb: "SITE",
      arg: "UTIME /a 20240102030405 20240102030405 20240102030405 UTC",
    });
  });
});
