import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_MAX_UNUSED } from "../backup/prune.ts";
import { runFerry } from "./cli-test-helpers.ts";

const COMMANDS = [
  ["init"],
  ["backup"],
  ["snapshots"],
  ["ls"],
  ["find"],
  ["diff"],
  ["stats"],
  ["restore"],
  ["dump"],
  ["forget"],
  ["prune"],
  ["check"],
  ["key", "list"],
  ["key", "add"],
  ["key", "remove"],
  ["key", "passwd"],
  ["unlock"],
];

describe("help", () => {
  for (const command of COMMANDS) {
    it(`ferry ${command.join(" ")} --help shows examples and the repository flags`, async () => {
      const run = await runFerry([...command, "--help"], {});
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Examples?:\n {2}ferry /);
      assert.match(run.stdout, /-d, --destination <url>/);
      assert.match(run.stdout, /--password-command <cmd>/);
    });
  }

  it("lists every command with the exit codes", async () => {
    const run = await runFerry(["--help"], {});
    for (const [name] of COMMANDS) assert.match(run.stdout, new RegExp(`^  ${name ?? ""} `, "m"));
    assert.match(run.stdout, /13 read-only destination/);
  });

  it("states prune's default unused share", async () => {
    const run = await runFerry(["prune", "--help"], {});
    assert.ok(run.stdout.includes(`[${DEFAULT_MAX_UNUSED * 100}%]`));
  });
});
