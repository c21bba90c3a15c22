import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SettingsError } from "./settings.ts";
import { defaultPort, parseDestination, redactUrl } from "./url.ts";

describe("parseDestination", () => {
  const cases: [string, Record<string, unknown>][] = [
    [
      "ftp://bob@host/backups",
      { type: "ftp", tls: "none", host: "host", user: "bob", path: "backups" },
    ],
    ["ftpes://bob@host//srv/b", { type: "ftp", tls: "explicit", path: "/srv/b" }],
    ["ftps://bob@host/%2Fsrv", { type: "ftp", tls: "implicit", path: "/srv" }],
    ["ftp://bob@host/./x", { type: "ftp", path: "x" }], // ./x and x are both relative to login
    ["ftp://bob@host/", { type: "ftp", path: "" }],
    ["ftp://bob@[::1]:2121/b", { host: "::1", port: 2121 }],
    ["sftp://alice@h/b?hostKeyTrust=insecure", { type: "sftp", hostKeyTrust: "insecure" }],
    [
      "sftp://alice@h/b?algorithms.cipher=aes128-ctr,aes256-ctr",
      { algorithms: { cipher: ["aes128-ctr", "aes256-ctr"] } },
    ],
    ["./relative/dir", { type: "local", path: "./relative/dir" }],
    ["/abs/dir", { type: "local", path: "/abs/dir" }],
    ["file:///abs/dir", { type: "local", path: "/abs/dir" }],
    ["memory://", { type: "memory" }],
    [
      "ftp://u@h/b?passive=no&maxConnections=8&bandwidthLimit=10MiB/s",
      { passive: false, maxConnections: 8, bandwidthLimit: 10 * 1024 * 1024 },
    ],
    [
      "ftp://u@h/b?activePorts=40000-40100&connectTimeout=2m",
      { activePorts: [40000, 40100], connectTimeout: 120 },
    ],
    [
      "ftp://u@h/b?tlsFingerprint=sha256:" + "ab".repeat(32),
      { tlsFingerprint: Array(32).fill("AB").join(":") },
    ],
  ];
  for (const [url, expected] of cases) {
    it(url, () => {
      const { settings } = parseDestination(url);
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual((settings as Record<string, unknown>)[key], value, key);
      }
    });
  }

  it("applies defaults from the brief", () => {
    const { settings } = parseDestination("ftp://u@h/b");
    assert.equal(defaultPort(settings), 21);
    assert.equal(defaultPort(parseDestination("ftps://u@h/b").settings), 990);
    assert.equal(defaultPort(parseDestination("sftp://u@h/b").settings), 22);
    assert.equal(settings.maxRetries, 5);
    assert.equal(settings.maxConnections, 4);
    assert.ok(settings.type === "ftp");
    assert.equal(settings.idleTimeout, 60);
    assert.equal(settings.keepAlive, 15);
  });

  it("warns about a password in the URL and decodes it", () => {
    const { settings, warnings } = parseDestination("ftp://u:p%40ss@h/b");
    assert.equal(settings.type === "ftp" ? settings.password : undefined, "p@ss");
    assert.match(warnings.join(), /password-file/);
  });

  it("lets --set overrides win over the URL", () => {
    const { settings } = parseDestination("ftp://u@h/b?passive=true", { passive: "false" });
    assert.equal(settings.type === "ftp" && settings.passive, false);
  });

  const bad: [string, RegExp][] = [
    ["ftp://u@h/b?maxConnections=-1", /"maxConnections" = "-1": expected 0 or more/],
    ["ftp://u@h/b?tls=maybe", /"tls" = "maybe"/],
    ["ftp://u@h/b?colour=blue", /unknown setting "colour"/],
    ["gopher://h/", /Unsupported destination scheme "gopher:\/\/"/],
    ["ftp://h/b", /user is required/],
    ["ftp://u@h/b?port=70000", /"port" = "70000": expected a port from 1 to 65535/],
    ["ftp://u@h/b?tlsTrust=fingerprint", /needs tlsFingerprint/],
    ["ftp://u@h/b?tlsMinVersion=1.3&tlsMaxVersion=1.2", /above tlsMaxVersion/],
    ["ftp://u@h/b?account=a%0D%0AQUIT", /"account".*CR, LF or NUL/],
    ["sftp://u@h/b?hostKey=abc", /"hostKey" = "abc"/],
    ["ftp://u@h/b?encoding=klingon", /code page/],
    ["ftp://u@h/b?bandwidthLimit=fast", /expected a rate/],
    ["ftp://u@h/b?proxy=ftp://p", /expected http:\/\/host:port/],
  ];
  for (const [url, message] of bad) {
    it(`refuses ${url}`, () => {
      assert.throws(
        () => parseDestination(url),
        (error: unknown) => {
          assert.ok(error instanceof SettingsError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  it("never quotes a secret in an error", () => {
    assert.throws(
      () => parseDestination("ftp://u@h/b", { password: "hunter2\nx" }),
      (error: Error) => !error.message.includes("hunter2") && /\(hidden\)/.test(error.message),
    );
  });
});

describe("redactUrl", () => {
  it("masks passwords in userinfo and query", () => {
    assert.equal(
      redactUrl("ftp://u:secret@h/b?password=x&a=1"),
      "ftp://u:****@h/b?password=****&a=1",
    );
  });
});
