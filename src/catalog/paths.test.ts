import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { catalogDir, ensureCatalogDir } from "./paths.ts";
import { tempDir } from "./temp-dir.test-helper.ts";

describe("catalog directory", () => {
  it("is FERRY_HOME, else XDG_CONFIG_HOME/ferry, else ~/.config/ferry", () => {
    assert.equal(catalogDir({ FERRY_HOME: "/a", XDG_CONFIG_HOME: "/b" }), "/a");
    assert.equal(catalogDir({ XDG_CONFIG_HOME: "/b" }), "/b/ferry");
    assert.equal(
      catalogDir({ FERRY_HOME: "", XDG_CONFIG_HOME: "" }),
      join(homedir(), ".config", "ferry"),
    );
  });

  it("is created with mode 0700", () => {
    const home = join(tempDir(), "nested", "ferry");
    assert.equal(ensureCatalogDir({ FERRY_HOME: home }), home);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(ensureCatalogDir({ FERRY_HOME: home }), home);
  });
});
