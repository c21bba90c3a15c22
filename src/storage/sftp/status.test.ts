import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError, type StorageErrorCode } from "../errors.ts";
import { SFTP_STATUS, statusName, toStorageError } from "./status.ts";

/** An error shaped like ssh2's: an SFTP status has a numeric code, a transport error a level. */
function ssh2Error(message: string, extra: { code?: number | string; level?: string }): Error {
  return Object.assign(new Error(message), extra);
}

const cases: [string, Error, StorageErrorCode, boolean][] = [
  [
    "NO_SUCH_FILE",
    ssh2Error("No such file", { code: SFTP_STATUS.NO_SUCH_FILE }),
    "NOT_FOUND",
    false,
  ],
  ["PERMISSION_DENIED", ssh2Error("Permission denied", { code: 3 }), "PERMISSION", false],
  ["bare FAILURE", ssh2Error("Failure", { code: 4 }), "PROTOCOL", false],
  ["FAILURE: No space", ssh2Error("No space left on device", { code: 4 }), "NO_SPACE", false],
  ["FAILURE: quota", ssh2Error("Disk quota exceeded", { code: 4 }), "NO_SPACE", false],
  ["v5 NO_SPACE_ON_FILESYSTEM", ssh2Error("full", { code: 14 }), "NO_SPACE", false],
  ["v5 QUOTA_EXCEEDED", ssh2Error("quota", { code: 15 }), "NO_SPACE", false],
  ["v5 FILE_ALREADY_EXISTS", ssh2Error("exists", { code: 11 }), "EXISTS", false],
  ["OP_UNSUPPORTED", ssh2Error("Operation unsupported", { code: 8 }), "UNSUPPORTED", false],
  ["CONNECTION_LOST", ssh2Error("Connection lost", { code: 7 }), "CONNECTION", true],
  ["unknown status", ssh2Error("odd", { code: 42 }), "PROTOCOL", false],
  ["session gone", new Error("No response from server"), "CONNECTION", true],
  ["channel gone", new Error("Not connected"), "CONNECTION", true],
  [
    "ECONNRESET",
    ssh2Error("read ECONNRESET", { code: "ECONNRESET", level: "client-socket" }),
    "CONNECTION",
    true,
  ],
  [
    "refused login",
    ssh2Error("All configured authentication methods failed", { level: "client-authentication" }),
    "AUTH",
    false,
  ],
  ["agent", ssh2Error("connect ENOENT /tmp/agent", { level: "agent" }), "AUTH", false],
  [
    "handshake timeout",
    ssh2Error("Timed out while waiting for handshake", { level: "client-timeout" }),
    "TIMEOUT",
    true,
  ],
  [
    "keepalive timeout",
    ssh2Error("Keepalive timeout", { level: "client-timeout" }),
    "CONNECTION",
    true,
  ],
  [
    "host key",
    ssh2Error("Host denied (verification failed)", { level: "handshake" }),
    "HOST_KEY",
    false,
  ],
  [
    "no common cipher",
    ssh2Error("Handshake failed: no matching cipher", { level: "handshake" }),
    "PROTOCOL",
    false,
  ],
  [
    "closed before ident",
    ssh2Error("Connection lost before handshake", { level: "protocol" }),
    "CONNECTION",
    true,
  ],
  [
    "missing extension",
    new Error("Server does not support this extended request"),
    "UNSUPPORTED",
    false,
  ],
];

describe("toStorageError", () => {
  for (const [name, error, code, retriable] of cases) {
    it(`${name} → ${code}${retriable ? " (retriable)" : ""}`, () => {
      const mapped = toStorageError(error, { what: 'Opening "/srv/b/x"', path: "/srv/b/x" });
      assert.equal(mapped.code, code, mapped.message);
      assert.equal(mapped.retriable, retriable);
      assert.equal(mapped.cause, error, "the raw error is kept as cause");
      assert.ok(mapped.message.startsWith('Opening "/srv/b/x"'), mapped.message);
    });
  }

  it("keeps the path as the key and quotes the server's status", () => {
    const mapped = toStorageError(ssh2Error("No such file", { code: 2 }), {
      what: "Reading",
      path: "/a/b",
    });
    assert.equal(mapped.key, "/a/b");
    assert.match(mapped.message, /NO_SUCH_FILE "No such file"/);
  });

  it("adds the dialer's hint to a refused login", () => {
    const mapped = toStorageError(
      ssh2Error("All configured authentication methods failed", { level: "client-authentication" }),
      {
        what: "Connecting to h:22",
        authHint: "Check the password.",
      },
    );
    assert.match(mapped.message, /refused the login\. Check the password\.$/);
  });

  it("passes a StorageError through unchanged", () => {
    const error = new StorageError("HOST_KEY", "changed");
    assert.equal(toStorageError(error, { what: "x" }), error);
  });

  it("names status codes", () => {
    assert.equal(statusName(2), "NO_SUCH_FILE");
    assert.equal(statusName(99), "STATUS_99");
  });
});
