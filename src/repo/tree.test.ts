import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeTree, encodeTree, type TreeNode } from "./tree.ts";

const file: TreeNode = {
  name: "a",
  type: "file",
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtime: "1",
  ctime: "2",
  size: 1,
  inode: 3,
  device: 4,
  links: 1,
  content: ["ab".repeat(32)],
};
const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe("tree decoding", () => {
  it("round-trips and drops unknown fields", () => {
    assert.deepEqual(decodeTree(encodeTree([file]), "t"), [file]);
    assert.deepEqual(decodeTree(bytes({ nodes: [{ ...file, extra: 1 }] }), "t"), [file]);
  });

  it("refuses malformed nodes, naming the field", () => {
    const bad: [unknown, RegExp][] = [
      [{ nodes: [{ ...file, mode: 0o10000 }] }, /nodes\.0\.mode/],
      [{ nodes: [{ ...file, mtime: "1.5" }] }, /nodes\.0\.mtime/],
      [{ nodes: [{ ...file, size: -1 }] }, /nodes\.0\.size/],
      [{ nodes: [{ ...file, content: ["xyz"] }] }, /nodes\.0\.content/],
      [{ nodes: [{ ...file, type: "door" }] }, /nodes\.0\.type/],
      [{ nodes: [{ ...file, name: undefined }] }, /nodes\.0\.name/],
      [{ nodes: "no" }, /no node list/],
      [null, /no node list/],
      [{ nodes: [7] }, /not an object/],
    ];
    for (const [value, message] of bad) {
      assert.throws(() => decodeTree(bytes(value), "Tree t"), { code: "DAMAGED", message });
    }
  });

  it("refuses names that could leave a restore target, and duplicates", () => {
    for (const name of ["..", ".", "a/b", "a\0b"]) {
      assert.throws(() => decodeTree(bytes({ nodes: [{ ...file, name }] }), "t"), /unsafe name/);
    }
    assert.throws(() => decodeTree(bytes({ nodes: [file, file] }), "t"), /twice/);
  });
});
