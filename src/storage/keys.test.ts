import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkKey, isTempName, keyPath, parentPath, tempPath } from "./keys.ts";

describe("keys", () => {
  it("accepts ordinary keys", () => {
    for (const key of ["", "a", "a/b", "data/ab/cdef", "with space/ü"])
      assert.equal(checkKey(key), key);
  });
  it("refuses keys that could escape or inject", () => {
    for (const key of ["/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", "a\rb", "a\nb", "a\0b"]) {
      assert.throws(() => checkKey(key), /Invalid storage key/);
    }
  });
  it("maps keys under the root", () => {
    assert.equal(keyPath("/srv/b", ""), "/srv/b");
    assert.equal(keyPath("/srv/b", "x/y"), "/srv/b/x/y");
    assert.equal(keyPath("/", "x"), "/x");
  });
  it("finds parents", () => {
    assert.equal(parentPath("/a/b"), "/a");
    assert.equal(parentPath("/a"), "/");
    assert.equal(parentPath("a"), ".");
  });
  it("makes hidden temporary names beside the target", () => {
    const temp = tempPath("/srv/b/data/obj");
    assert.match(temp, /^\/srv\/b\/data\/\.obj\.ferry-tmp-[0-9a-f]{12}$/);
    assert.ok(isTempName(temp.slice(temp.lastIndexOf("/") + 1)));
    assert.ok(!isTempName("obj"));
  });
});
