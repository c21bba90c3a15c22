import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isStorageError } from "../errors.ts";
import { baseName, checkPath, joinPath, normalizePath, parse257, resolveRoot } from "./paths.ts";

void describe("FTP paths", () => {
  void test("CR, LF and NUL are refused with INVALID (command injection)", () => {
    for (const path of ["/a\r\nDELE /b", "/a\nb", "/a\rb", "/a\0b"]) {
      assert.throws(
        () => {
          checkPath(path, "Deleting");
        },
        (error: unknown) => isStorageError(error, "INVALID") && /CR, LF or NUL/.test(error.message),
      );
    }
    checkPath("/a b/ü.txt", "Deleting");
  });

  void test("root resolution against the login directory", () => {
    assert.equal(resolveRoot("/home/u", ""), "/home/u");
    assert.equal(resolveRoot("/home/u", "backups"), "/home/u/backups");
    assert.equal(resolveRoot("/home/u", "./backups/"), "/home/u/backups");
    assert.equal(resolveRoot("/home/u", "/srv//b/"), "/srv/b");
    assert.equal(resolveRoot("/", "x"), "/x");
    assert.equal(resolveRoot("", ""), "/");
  });

  void test("joining, base names, normalising", () => {
    assert.equal(joinPath("/", "a"), "/a");
    assert.equal(joinPath("/a", "b"), "/a/b");
    assert.equal(baseName("/a/b c"), "b c");
    assert.equal(baseName("/"), "/");
    assert.equal(normalizePath("a/./b/../c/"), "/a/c");
  });

  void test("257 replies, with doubled quotes", () => {
    assert.equal(parse257('257 "/home/u" is the current directory'), "/home/u");
    assert.equal(parse257('257 "/a ""quoted"" dir" created'), '/a "quoted" dir');
    assert.equal(parse257("257 no quotes"), undefined);
  });
});
