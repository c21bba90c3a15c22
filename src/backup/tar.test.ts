import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BLOCK, padding, tarHeader, type TarEntry } from "./tar.ts";

/** Reads back what a reader sees: the pax records (checked for self-consistent lengths) and fields. */
function parse(bytes: Buffer): { pax: Map<string, string>; name: string; block: Buffer } {
  assert.equal(bytes.length % BLOCK, 0);
  const pax = new Map<string, string>();
  let at = 0;
  const checked = (block: Buffer): Buffer => {
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    assert.equal(parseInt(block.toString("ascii", 148, 154), 8), sum, "checksum");
    assert.equal(block.toString("ascii", 257, 265), "ustar\u000000");
    return block;
  };
  let block = checked(bytes.subarray(0, BLOCK));
  if (block.toString("ascii", 156, 157) === "x") {
    const size = parseInt(block.toString("ascii", 124, 135), 8);
    let body = bytes.subarray(BLOCK, BLOCK + size);
    while (body.length > 0) {
      const space = body.indexOf(0x20);
      const length = Number(body.toString("ascii", 0, space));
      const record = body.subarray(0, length);
      assert.equal(record[length - 1], 0x0a, "record ends with a newline");
      const text = record.toString("utf8", space + 1, length - 1);
      const eq = text.indexOf("=");
      pax.set(text.slice(0, eq), text.slice(eq + 1));
      body = body.subarray(length);
    }
    at = BLOCK + size + padding(size).length;
    block = checked(bytes.subarray(at, at + BLOCK));
  }
  assert.equal(at + BLOCK, bytes.length);
  const field = (from: number, to: number): string =>
    block.toString("ascii", from, to).replace(/\0.*$/s, "");
  const prefix = field(345, 500);
  const name = pax.get("path") ?? (prefix === "" ? field(0, 100) : `${prefix}/${field(0, 100)}`);
  return { pax, name, block };
}

const base: TarEntry = {
  name: "a",
  type: "file",
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 0,
  mtimeNs: 1_700_000_000_000_000_000n,
};

describe("tar headers", () => {
  it("carry any name, through ustar fields or pax", () => {
    const segment = fc
      .string({ unit: "binary", minLength: 1, maxLength: 80 })
      .filter((s) => !s.includes("/") && !s.includes("\0"));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (parts) => {
        const name = parts.join("/");
        assert.equal(parse(tarHeader({ ...base, name })).name, name);
      }),
      { numRuns: 500 },
    );
  });

  it("keep pax record lengths right where the length gains a digit", () => {
    for (let n = 80; n < 120; n++) {
      const name = "é".repeat(n);
      assert.equal(parse(tarHeader({ ...base, name })).name, name);
    }
  });

  it("write sizes of 8 GiB and more in base 256 and pax", () => {
    const size = 10 * 1024 ** 3 + 7;
    const { pax, block } = parse(tarHeader({ ...base, size }));
    assert.equal(pax.get("size"), String(size));
    assert.equal(block[124], 0x80);
    assert.equal(block.readBigUInt64BE(128), BigInt(size));
    const small = parse(tarHeader({ ...base, size: 8 ** 11 - 1 }));
    assert.equal(small.pax.has("size"), false);
  });

  it("add pax times only for fractions and times before 1970", () => {
    assert.equal(parse(tarHeader({ ...base, mtimeNs: 5_000_000_000n })).pax.size, 0);
    assert.equal(
      parse(tarHeader({ ...base, mtimeNs: 5_000_000_001n })).pax.get("mtime"),
      "5.000000001",
    );
    assert.equal(parse(tarHeader({ ...base, mtimeNs: -1_500_000_000n })).pax.get("mtime"), "-1.5");
  });
});
