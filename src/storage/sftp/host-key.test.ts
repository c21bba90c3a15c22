import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkFingerprint,
  checkKnownHosts,
  fingerprint,
  hostMatches,
  keyType,
  knownAlgorithms,
  knownHostsName,
  parseKnownHosts,
} from "./host-key.ts";

// Generated with ssh-keygen; fingerprints as `ssh-keygen -lf` prints them.
const ED25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIBWHhxBOKSckD8qbGAPrZ/lr3cJVVOCKntfSLdEJ2wDz";
const ED25519_FP = "SHA256:J0xOVj4lBx5Q5zoIRv4P9bqxkbYqq5syryToeZ/+Kxo";
const ECDSA =
  "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNEoVvOgEYd6x5QtHFUN44lfWrPYiFtGItma8/lFTqZc6i9cF7tmXJBlEih8ZzAEouVWUNMjPa6kcrnDYgqdtKA=";
const ECDSA_FP = "SHA256:Wgx7QYvClIOZXOP8RsLGCn5tsK0pzVfoZxA98Pnjgvc";
// `ssh-keygen -H` of "[backup.example.net]:2222" and "plain.example.net" with the ed25519 key.
const HASHED_2222 = "|1|GIUjcmILSOTbSrWMOOeNi9Jd800=|LcbHR86qm0WeBzxm7i5C8KFYf3Q=";
const HASHED_PLAIN = "|1|9kCJDoWnYE5Vv0Ow9bMqDn99BCw=|8C71ttjm6qsL5YQYy7aRiQUwN+I=";

const ed25519 = Buffer.from(ED25519, "base64");
const ecdsa = Buffer.from(ECDSA, "base64");

describe("fingerprint", () => {
  it("matches ssh-keygen -lf for ed25519 and ecdsa keys", () => {
    assert.equal(fingerprint(ed25519), ED25519_FP);
    assert.equal(fingerprint(ecdsa), ECDSA_FP);
  });

  it("reads the key type from the blob", () => {
    assert.equal(keyType(ed25519), "ssh-ed25519");
    assert.equal(keyType(ecdsa), "ecdsa-sha2-nistp256");
    assert.equal(keyType(Buffer.from([0, 0])), "unknown");
    assert.equal(keyType(Buffer.from([0xff, 0xff, 0xff, 0xff, 1])), "unknown");
  });
});

describe("known_hosts parsing", () => {
  const file = [
    "# a comment",
    "",
    `plain.example.net,10.0.0.5 ssh-ed25519 ${ED25519} root@plain`,
    `[backup.example.net]:2222 ecdsa-sha2-nistp256 ${ECDSA}`,
    `${HASHED_2222} ssh-ed25519 ${ED25519}`,
    `*.lan,!evil.lan ssh-ed25519 ${ED25519}`,
    `@revoked old.example.net ssh-ed25519 ${ED25519}`,
    "broken line",
    `mismatch.example.net ssh-rsa ${ED25519}`,
    `bad64.example.net ssh-ed25519 not*base64`,
  ].join("\n");
  const entries = parseKnownHosts(file);

  it("keeps well-formed entries with their line numbers and markers", () => {
    assert.deepEqual(
      entries.map((e) => [e.line, e.marker, e.hosts, e.keyType]),
      [
        [3, "", "plain.example.net,10.0.0.5", "ssh-ed25519"],
        [4, "", "[backup.example.net]:2222", "ecdsa-sha2-nistp256"],
        [5, "", HASHED_2222, "ssh-ed25519"],
        [6, "", "*.lan,!evil.lan", "ssh-ed25519"],
        [7, "@revoked", "old.example.net", "ssh-ed25519"],
      ],
    );
  });

  it("names non-standard ports as [host]:port", () => {
    assert.equal(knownHostsName("Host.Example", 22), "host.example");
    assert.equal(knownHostsName("host.example", 2222), "[host.example]:2222");
  });

  it("matches plain lists, ports, wildcards and negations", () => {
    assert.ok(hostMatches("plain.example.net,10.0.0.5", "10.0.0.5", 22));
    assert.ok(hostMatches("plain.example.net,10.0.0.5", "PLAIN.example.net", 22));
    assert.ok(!hostMatches("plain.example.net", "plain.example.net", 2222));
    assert.ok(hostMatches("[backup.example.net]:2222", "backup.example.net", 2222));
    assert.ok(!hostMatches("[backup.example.net]:2222", "backup.example.net", 22));
    assert.ok(hostMatches("*.lan,!evil.lan", "nas.lan", 22));
    assert.ok(!hostMatches("*.lan,!evil.lan", "evil.lan", 22));
    assert.ok(hostMatches("nas?.lan", "nas1.lan", 22));
    assert.ok(!hostMatches("nas.lan", "nasxlan", 22), "a dot is not a wildcard");
  });

  it("matches hashed |1| entries by HMAC-SHA1 of the name", () => {
    assert.ok(hostMatches(HASHED_2222, "backup.example.net", 2222));
    assert.ok(!hostMatches(HASHED_2222, "backup.example.net", 22));
    assert.ok(hostMatches(HASHED_PLAIN, "plain.example.net", 22));
    assert.ok(!hostMatches(HASHED_PLAIN, "other.example.net", 22));
    assert.ok(!hostMatches("|1|garbage", "plain.example.net", 22));
  });

  it("accepts a listed key, naming the line", () => {
    const verdict = checkKnownHosts(entries, "kh", ed25519, "backup.example.net", 2222);
    assert.ok(verdict.ok);
    assert.match(verdict.note, /kh line 5/);
  });

  it("refuses an unlisted host with the server's fingerprint and the fix", () => {
    const verdict = checkKnownHosts(
      entries,
      "/home/u/.ssh/known_hosts",
      ed25519,
      "new.example.net",
      22,
    );
    assert.ok(!verdict.ok);
    assert.equal(verdict.error.code, "HOST_KEY");
    assert.match(verdict.error.message, /not in \/home\/u\/\.ssh\/known_hosts/);
    assert.ok(verdict.error.message.includes(ED25519_FP));
    assert.ok(verdict.error.message.includes(`--set hostKey=${ED25519_FP}`));
    assert.ok(verdict.error.message.includes("ssh-keyscan -t ssh-ed25519 new.example.net"));
  });

  it("reports a changed key with both fingerprints", () => {
    const verdict = checkKnownHosts(entries, "kh", ecdsa, "plain.example.net", 22);
    assert.ok(!verdict.ok);
    // plain.example.net lists only an ed25519 key: a different type is "not listed", not CHANGED
    assert.match(verdict.error.message, /lists only ssh-ed25519 keys/);
    const otherEcdsa = Buffer.from(ecdsa);
    otherEcdsa.writeUInt8(otherEcdsa.readUInt8(otherEcdsa.length - 1) ^ 1, otherEcdsa.length - 1);
    const changed = checkKnownHosts(entries, "kh", otherEcdsa, "backup.example.net", 2222);
    assert.ok(!changed.ok);
    assert.match(changed.error.message, /CHANGED/);
    assert.ok(changed.error.message.includes(ECDSA_FP), "the known fingerprint");
    assert.ok(changed.error.message.includes(fingerprint(otherEcdsa)), "the server's fingerprint");
    assert.ok(changed.error.message.includes("ssh-keygen -R '[backup.example.net]:2222' -f kh"));
  });

  it("refuses a @revoked key even when another line lists it", () => {
    const withRevoked = parseKnownHosts(
      `old.example.net ssh-ed25519 ${ED25519}\n@revoked * ssh-ed25519 ${ED25519}`,
    );
    const verdict = checkKnownHosts(withRevoked, "kh", ed25519, "old.example.net", 22);
    assert.ok(!verdict.ok);
    assert.match(verdict.error.message, /@revoked in kh line 2/);
  });

  it("asks first for the host key algorithms known for the host", () => {
    assert.deepEqual(knownAlgorithms(entries, "backup.example.net", 2222), [
      "ecdsa-sha2-nistp256",
      "ssh-ed25519",
    ]);
    const rsa = parseKnownHosts(
      `h ssh-rsa ${Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from("ssh-rsa"), Buffer.alloc(8)]).toString("base64")}`,
    );
    assert.deepEqual(knownAlgorithms(rsa, "h", 22), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    assert.deepEqual(knownAlgorithms(entries, "unknown.example.net", 22), []);
  });
});

describe("hostKeyTrust=fingerprint", () => {
  it("accepts the pinned fingerprint, with or without base64 padding", () => {
    assert.ok(checkFingerprint(ed25519, ED25519_FP, "h", 22).ok);
    assert.ok(checkFingerprint(ed25519, `${ED25519_FP}=`, "h", 22).ok);
  });

  it("refuses when no hostKey is set, showing the fingerprint and the --set fix", () => {
    const verdict = checkFingerprint(ed25519, undefined, "nas.lan", 2222);
    assert.ok(!verdict.ok);
    assert.equal(verdict.error.code, "HOST_KEY");
    assert.equal(verdict.error.retriable, false);
    assert.match(verdict.error.message, /nas\.lan:2222 is not trusted yet/);
    assert.ok(verdict.error.message.includes(`--set hostKey=${ED25519_FP}`));
    assert.ok(verdict.error.message.includes("ssh_host_ed25519_key.pub"));
  });

  it("says CHANGED and shows both fingerprints when the key differs", () => {
    const verdict = checkFingerprint(ecdsa, ED25519_FP, "nas.lan", 22);
    assert.ok(!verdict.ok);
    assert.match(verdict.error.message, /CHANGED/);
    assert.ok(verdict.error.message.includes(`expects ${ED25519_FP}`));
    assert.ok(verdict.error.message.includes(`ecdsa-sha2-nistp256 key ${ECDSA_FP}`));
    assert.ok(verdict.error.message.includes(`--set hostKey=${ECDSA_FP}`));
  });
});
