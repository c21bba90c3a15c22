import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isStorageError } from "../errors.ts";
import { createNameCodec, encodeName } from "./encoding.ts";

const ROUND_TRIPS: [string, string, number[]][] = [
  ["utf8", "Grüße 日本.txt", [...Buffer.from("Grüße 日本.txt")]],
  ["latin1", "Grüße.txt", [0x47, 0x72, 0xfc, 0xdf, 0x65, 0x2e, 0x74, 0x78, 0x74]],
  ["cp1251", "Привет", [0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]],
  ["koi8-r", "Да", [0xe4, 0xc1]],
  ["gbk", "中文", [0xd6, 0xd0, 0xce, 0xc4]],
  ["euc-kr", "한국", [0xc7, 0xd1, 0xb1, 0xb9]],
  ["shift_jis", "日本", [0x93, 0xfa, 0x96, 0x7b]],
];

void describe("name encodings", () => {
  for (const [label, text, bytes] of ROUND_TRIPS) {
    void test(`${label}: ${text}`, () => {
      const codec = createNameCodec(label);
      assert.deepEqual([...encodeName(codec.name, text)], bytes);
      const wire = codec.toWire(text);
      assert.equal(wire, Buffer.from(bytes).toString("latin1"), "a byte-string for FTPContext");
      assert.equal(codec.fromWire(wire), text);
      assert.equal(codec.decode(Uint8Array.from(bytes)), text);
    });
  }

  void test("a name the code page cannot express is UNSUPPORTED, naming the fix", () => {
    const codec = createNameCodec("cp1251");
    assert.throws(
      () => codec.toWire("日本"),
      (error: unknown) =>
        isStorageError(error, "UNSUPPORTED") && /encoding=utf8/.test(error.message),
    );
  });

  void test("ASCII passes through every ASCII-compatible page", () => {
    for (const label of ["latin1", "cp1251", "gbk", "euc-kr"]) {
      assert.equal(createNameCodec(label).toWire("/a b/c-1.txt"), "/a b/c-1.txt");
    }
  });
});
