import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const main = join(import.meta.dirname, "main.ts");
const base = await mkdtemp(join(tmpdir(), "ferry-cli-"));
after(() => rm(base, { recursive: true, force: true }));

async function ferry(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("ferry destination test", () => {
  it("runs the round trip on a local directory and exits 0", async () => {
    const result = await ferry(["destination", "test", join(base, "dest")]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /ok {3}write a 1572881-byte object/);
    assert.match(result.stdout, /Destination OK/);
  });

  it("prints one JSON report with --json", async () => {
    const result = await ferry(["destination", "test", join(base, "json"), "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      steps: unknown[];
      server: { protocol: string };
    };
    assert.equal(report.ok, true);
    assert.equal(report.server.protocol, "local");
    assert.equal(report.steps.length, 10);
  });

  it("exits 2 with one clear line for a bad setting", async () => {
    const result = await ferry([
      "destination",
      "test",
      "ftp://u@127.0.0.1/b",
      "--set",
      "maxConnections=lots",
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /setting "maxConnections" = "lots": expected a whole number/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  });

  it("refuses a password on the command line", async () => {
    const result = await ferry([
      "destination",
      "test",
      "ftp://u@127.0.0.1/b",
      "--set",
      "password=hunter2",
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--password-file/);
    assert.doesNotMatch(result.stderr, /hunter2/);
  });

  it("exits 1 with the reason when nothing listens, never echoing the password", async () => {
    const file = join(base, "pass");
    await writeFile(file, "s3cret-value\n");
    const result = await ferry([
      "destination",
      "test",
      "ftp://u@127.0.0.1:1/b",
      "--password-file",
      file,
      "--set",
      "maxRetries=1",
      "--json",
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /127\.0\.0\.1:1/);
    const report = JSON.parse(result.stdout) as { ok: boolean; error: { code: string } };
    assert.equal(report.ok, false);
    assert.equal(report.error.code, "CONNECTION");
    assert.doesNotMatch(result.stderr + result.stdout, /s3cret-value/);
  });

  it("refuses a passphrase on the command line", async () => {
    const result = await ferry([
      "destination",
      "test",
      "sftp://u@127.0.0.1/b",
      "--set",
      "passphrase=topsecret",
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--passphrase-file/);
    assert.doesNotMatch(result.stderr, /topsecret/);
  });

  it("names a malformed URL and an unwritable protocol log, without a stack trace", async () => {
    const bad = await ferry(["destination", "test", "ftp://us%ZZer@127.0.0.1/b"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /malformed %-escape/);
    const file = join(base, "a-file");
    await writeFile(file, "x");
    const log = await ferry([
      "destination",
      "test",
      join(base, "d2"),
      "--protocol-log",
      join(file, "log"),
    ]);
    assert.equal(log.code, 1);
    assert.match(log.stderr, /Cannot write the protocol log/);
    assert.doesNotMatch(bad.stderr + log.stderr, /\n\s+at /);
  });

  it("masks a passphrase given in the URL wherever it is echoed", async () => {
    const result = await ferry([
      "destination",
      "test",
      "sftp://u@127.0.0.1:1/b?privateKey=/nonexistent&passphrase=KEYPASS1&maxRetries=1",
      "--json",
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /passphrase was given in the URL/);
    assert.doesNotMatch(result.stderr + result.stdout, /KEYPASS1/);
  });

  it("teaches with --help", async () => {
    const result = await ferry(["destination", "test", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Examples:/);
    assert.match(result.stdout, /--protocol-log/);
  });
});
