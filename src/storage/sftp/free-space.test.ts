import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDfOutput, shellQuote } from "./free-space.ts";

describe("df -Pk output", () => {
  it("reads available and total space in 1024-byte blocks", () => {
    const output =
      "Filesystem     1024-blocks     Used Available Capacity Mounted on\n" +
      "/dev/sda1        10255636  5234532   4480136      54% /srv/backup\n";
    assert.deepEqual(parseDfOutput(output), {
      available: 4480136 * 1024,
      total: 10255636 * 1024,
      source: "df",
    });
  });

  it("copes with a file system name containing spaces and a wrapped line", () => {
    const output =
      "Filesystem 1024-blocks Used Available Capacity Mounted on\n" +
      "//nas/share name\n 2000 500 1500 25% /mnt/nas\n";
    assert.equal(parseDfOutput(output)?.available, 1500 * 1024);
  });

  it("returns undefined for anything else", () => {
    assert.equal(parseDfOutput("This service allows sftp connections only.\n"), undefined);
    assert.equal(parseDfOutput(""), undefined);
    assert.equal(
      parseDfOutput("Filesystem 1024-blocks Used Available Capacity Mounted on\n"),
      undefined,
    );
  });
});

describe("shellQuote", () => {
  it("quotes for a POSIX shell, including single quotes and $", () => {
    assert.equal(shellQuote("/srv/it's $HOME"), `'/srv/it'\\''s $HOME'`);
  });
});
