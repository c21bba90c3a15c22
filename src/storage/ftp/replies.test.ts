import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FTPError } from "basic-ftp";
import { StorageError, isRetriable, type StorageErrorCode } from "../errors.ts";
import { classify550, replyError, replyOf, translateFtpError } from "./replies.ts";

const CASES: [string, StorageErrorCode, boolean][] = [
  ["530 Login incorrect.", "AUTH", false],
  ["530 Non-anonymous sessions must use encryption.", "TLS", false],
  ["332 Need account for login.", "AUTH", false],
  ["550 /x: No such file or directory", "NOT_FOUND", false],
  ["550 Can't open x: No such file or directory", "NOT_FOUND", false],
  ["550 File not found", "NOT_FOUND", false],
  ["550 /x: Permission denied", "PERMISSION", false],
  ["550 Access is denied.", "PERMISSION", false],
  ["550 /d: File exists", "EXISTS", false],
  ["550 Delete operation failed.", "PERMISSION", false],
  ["552 Disk quota exceeded", "NO_SPACE", false],
  ["452 Insufficient storage space", "NO_SPACE", false],
  ["421 There are too many connections from your internet address.", "LIMIT", true],
  ["421 Too many users - please try again later", "LIMIT", true],
  ["421 Timeout.", "CONNECTION", true],
  ["425 Failed to establish connection.", "CONNECTION", true],
  ["426 Failure writing network stream.", "CONNECTION", true],
  ["451 Transfer aborted", "CONNECTION", true],
  ["450 Transfer aborted. Link to file server lost", "CONNECTION", true],
  ["522 SSL connection failed: session reuse required", "TLS", false],
  ["522 Data connections must be encrypted.", "TLS", false],
  ["534 Request denied for policy reasons.", "TLS", false],
  ["500 MLSD not understood", "UNSUPPORTED", false],
  ["502 Command not implemented.", "UNSUPPORTED", false],
  ["504 Unknown command", "UNSUPPORTED", false],
  ["503 Bad sequence of commands.", "PROTOCOL", false],
  ["553 Could not create file.", "PERMISSION", false],
];

void describe("reply translation", () => {
  for (const [reply, code, retriable] of CASES) {
    void test(reply, () => {
      const error = replyError(
        { code: Number(reply.slice(0, 3)), message: reply },
        `Doing "/x"`,
        "/x",
      );
      assert.equal(error.code, code);
      assert.equal(isRetriable(error), retriable);
      assert.ok(error.message.startsWith(`Doing "/x" failed`), error.message);
      assert.ok(error.message.includes(reply), "the reply is quoted");
      assert.deepEqual(
        replyOf(error),
        { code: Number(reply.slice(0, 3)), message: reply },
        "raw reply kept as cause",
      );
    });
  }

  void test("messages name the fix", () => {
    const tooMany = replyError({ code: 421, message: "421 Too many connections" }, "Connecting");
    assert.match(tooMany.message, /maxConnections/);
    const reuse = replyError(
      { code: 522, message: "522 SSL connection failed: session reuse required" },
      "Reading",
    );
    assert.match(reuse.message, /tlsSessionReuse=true/);
  });

  void test("ambiguous 550s are left for a stat to decide", () => {
    assert.equal(classify550("550 Delete operation failed."), undefined);
    assert.equal(classify550("550 Failed to open file."), undefined);
    assert.equal(classify550("550 No such file or directory."), "NOT_FOUND");
  });

  void test("basic-ftp errors, socket errors and StorageErrors", () => {
    assert.equal(
      translateFtpError(new FTPError({ code: 550, message: "550 x: No such file" }), "Reading")
        .code,
      "NOT_FOUND",
    );
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    assert.equal(translateFtpError(reset, "Reading").code, "CONNECTION");
    assert.equal(
      translateFtpError(new Error("Timeout (control socket)"), "Reading").code,
      "TIMEOUT",
    );
    assert.equal(
      translateFtpError(
        new Error("Server sent FIN packet unexpectedly, closing connection."),
        "Reading",
      ).code,
      "CONNECTION",
    );
    const tls = Object.assign(new Error("self-signed certificate"), {
      code: "DEPTH_ZERO_SELF_SIGNED_CERT",
    });
    assert.equal(translateFtpError(tls, "Connecting").code, "TLS");
    const own = new StorageError("EXISTS", "x");
    assert.equal(translateFtpError(own, "Reading"), own);
  });
});
