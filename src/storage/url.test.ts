import assert from "node:assert/strict";
import { homedir } from "node:os";
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
      "ftp://u@h/b?passive=false&activePorts=40000-40100&connectTimeout=2m",
      { activePorts: [40000, 40100], connectTimeout: 120 },
    ],
    [
      "ftpes://u@h/b?tlsFingerprint=sha256:" + "ab".repeat(32),
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
    ["ftp://u@h/b?colour=blue", /unknown setting "colour" for ftp destinations: docs\/settings.md/],
    [
      "ftp://u@h/b?maxConnection=2",
      /unknown setting "maxConnection" .*did you mean "maxConnections"/,
    ],
    ["sftp://u@h/b?hostkey=x", /did you mean "hostKey"/],
    ["gopher://h/", /Unsupported destination scheme "gopher:\/\/"/],
    ["ftp://h/b", /user is required/],
    ["ftp://u@h/b?port=70000", /"port" = "70000": expected a port from 1 to 65535/],
    ["ftpes://u@h/b?tlsTrust=fingerprint", /needs tlsFingerprint/],
    ["ftpes://u@h/b?tlsMinVersion=1.3&tlsMaxVersion=1.2", /above tlsMaxVersion/],
    ["ftp://u@h/b?caFile=/ca.pem", /caFile has no effect with tls=none: use ftpes:\/\//],
    [
      "ftpes://u@h/b?tlsTrust=insecure&caFile=/ca.pem",
      /caFile has no effect with tlsTrust=insecure/,
    ],
    [
      "ftp://u@h/b?activePorts=40000-40100",
      /activePorts has no effect in passive mode: set passive=false/,
    ],
    [
      "ftp://u@h/b?passive=false&passiveCommand=pasv",
      /passiveCommand has no effect in active mode/,
    ],
    [
      "ftp://u@h/b?allowForeignDataHost=true",
      /allowForeignDataHost has no effect with passiveAddress=auto/,
    ],
    ["ftp://u@h/b?list=mlsd&listHidden=true", /listHidden has no effect with list=mlsd/],
    ["ftp://u@h/b?anonymous=true", /user has no effect with anonymous=true/],
    [
      "ftp://u@h/b?passive=false&proxy=socks5://p:1080",
      /active mode .* cannot work through a proxy/,
    ],
    ["ftp://u@h/b?proxy=https://p:443", /expected http:\/\/host:port/],
    ["ftp://u@h/b?proxy=socks5://p:1080&ipFamily=ipv6", /ipFamily has no effect through a proxy/],
    [
      "sftp://u@h/b?auth=password&privateKey=/k",
      /privateKey has no effect with auth=password: set auth=key/,
    ],
    ["sftp://u@h/b?passphrase=x", /passphrase has no effect without privateKey/],
    [
      "sftp://u@h/b?hostKeyTrust=insecure&hostKey=SHA256:" + "A".repeat(43),
      /hostKey has no effect with hostKeyTrust=insecure/,
    ],
    ["ftp://us%ZZer@h/b", /malformed %-escape/],
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

describe("file paths", () => {
  it("expand a leading ~/ to the home directory", () => {
    const { settings } = parseDestination("sftp://u@h/b?privateKey=~/.ssh/id_ed25519");
    assert.equal(settings.type === "sftp" && settings.privateKey, `${homedir()}/.ssh/id_ed25519`);
  });
});

describe("implied settings", () => {
  it("tlsFingerprint implies tlsTrust=fingerprint, knownHostsFile and agent imply their modes", () => {
    const ftp = parseDestination("ftpes://u@h/b?tlsFingerprint=" + "ab".repeat(32)).settings;
    assert.equal(ftp.type === "ftp" && ftp.tlsTrust, "fingerprint");
    const sftp = parseDestination("sftp://u@h/b?knownHostsFile=/kh&agent=/sock").settings;
    assert.equal(sftp.type === "sftp" && sftp.hostKeyTrust, "knownHosts");
    assert.equal(sftp.type === "sftp" && sftp.auth, "agent");
  });
});

describe("secrets in errors", () => {
  it("never quotes a proxy password or an account", () => {
    for (const [url, secret] of [
      ["ftp://u@h/b?proxy=socks9://pu:PROXYPASS@p:1080", "PROXYPASS"],
      ["ftp://u@h/b?account=ACCTSECRET%0A", "ACCTSECRET"],
    ] as const) {
      assert.throws(
        () => parseDestination(url),
        (error: Error) => !error.message.includes(secret),
      );
    }
  });
});

describe("redactUrl", () => {
  it("masks passphrases, accounts and proxy credentials", () => {
    const text = redactUrl(
      "sftp://u@h/b?passphrase=KEYPASS&account=ACC&proxy=socks5%3A%2F%2Fpu%3AP%40SS%40x%40p%3A1080&port=22",
    );
    for (const secret of ["KEYPASS", "ACC", "P%40SS", "P@SS"])
      assert.ok(!text.includes(secret), text);
    assert.match(text, /port=22/);
  });

  it("masks passwords in userinfo and query", () => {
    assert.equal(
      redactUrl("ftp://u:secret@h/b?password=x&a=1"),
      "ftp://u:****@h/b?password=****&a=1",
    );
  });
});
