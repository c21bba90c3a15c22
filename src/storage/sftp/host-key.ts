/**
 * SSH host key verification: OpenSSH fingerprints, OpenSSH known_hosts files (plain, wildcard,
 * negated, `[host]:port` and hashed `|1|` entries, `@revoked` markers) and the verdicts with
 * their messages. Pure functions: the dialer reads the file and feeds ssh2's `hostVerifier`.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { StorageError } from "../errors.ts";

/** OpenSSH's fingerprint of a host key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function fingerprint(keyBlob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named at the start of a key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const length = keyBlob.readUInt32BE(0);
  if (length > 64 || 4 + length > keyBlob.length) return "unknown";
  return keyBlob.toString("latin1", 4, 4 + length);
}

/** Host key algorithms that produce keys of a type, in the order ssh should ask for them. */
export function algorithmsForKeyType(type: string): string[] {
  return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
}

export interface KnownHost {
  /** `@revoked`, `@cert-authority`, or "" for a plain entry. */
  marker: string;
  /** The host field as written: `a,b,[c]:2222`, `*.lan,!x.lan` or `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  key: Buffer;
  /** 1-based line number, for messages. */
  line: number;
}

/** Parses an OpenSSH known_hosts file; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    const marker = line.startsWith("@") ? (fields.shift() ?? "") : "";
    const [hosts, type, base64] = fields;
    if (hosts === undefined || type === undefined || base64 === undefined) return;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return;
    const key = Buffer.from(base64, "base64");
    if (keyType(key) !== type) return;
    entries.push({ marker, hosts, keyType: type, key, line: index + 1 });
  });
  return entries;
}

/** The name known_hosts stores for a host: `host` on port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${String(port)}`;
}

/** True when an entry's host field names `host:port` (OpenSSH match_hostname semantics). */
export function hostMatches(hosts: string, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (hosts.startsWith("|1|")) return hashedMatches(hosts, name);
  let matched = false;
  for (const pattern of hosts.toLowerCase().split(",")) {
    const negated = pattern.startsWith("!");
    if (globMatches(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as `ssh-keygen -H` writes. */
function hashedMatches(field: string, name: string): boolean {
  const [, , salt64, hash64] = field.split("|");
  if (salt64 === undefined || hash64 === undefined) return false;
  const expected = Buffer.from(hash64, "base64");
  const actual = createHmac("sha1", Buffer.from(salt64, "base64")).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function globMatches(pattern: string, text: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${regex}$`).test(text);
}

/** Outcome of a host key check: accepted (with a note for the log), or a HOST_KEY error. */
export type HostKeyVerdict = { ok: true; note: string } | { ok: false; error: StorageError };

interface Presented {
  /** `host:port` for messages. */
  target: string;
  type: string;
  fingerprint: string;
}

function presented(host: string, port: number, key: Buffer): Presented {
  return { target: `${host}:${String(port)}`, type: keyType(key), fingerprint: fingerprint(key) };
}

/** `hostKeyTrust=fingerprint`: the key must have the fingerprint in `expected` (the hostKey setting). */
export function checkFingerprint(
  key: Buffer,
  expected: string | undefined,
  host: string,
  port: number,
): HostKeyVerdict {
  const server = presented(host, port, key);
  const fix = `--set hostKey=${server.fingerprint}`;
  if (expected === undefined) {
    return reject(
      `The SSH host key of ${server.target} is not trusted yet: the server presented the ${server.type} key ${server.fingerprint}. If that is the server's key (on the server: ssh-keygen -lf /etc/ssh/ssh_host_${server.type.replace(/^ssh-|-sha2-nistp\d+$/g, "")}_key.pub), trust it with ${fix}.`,
    );
  }
  if (expected.replace(/=+$/, "") === server.fingerprint) {
    return { ok: true, note: `host key ${server.type} ${server.fingerprint} matches hostKey` };
  }
  return reject(
    `The SSH host key of ${server.target} CHANGED: hostKey expects ${expected}, but the server presented the ${server.type} key ${server.fingerprint}. Someone may be intercepting the connection, or the server was reinstalled or changed its key. Only if the change is expected, trust the new key with ${fix}.`,
  );
}

/** `hostKeyTrust=knownHosts`: the key must be listed for the host in the known_hosts file. */
export function checkKnownHosts(
  entries: readonly KnownHost[],
  file: string,
  key: Buffer,
  host: string,
  port: number,
): HostKeyVerdict {
  const server = presented(host, port, key);
  const name = knownHostsName(host, port);
  const forHost = entries.filter((entry) => hostMatches(entry.hosts, host, port));
  const same = forHost.filter((entry) => entry.key.equals(key));
  const revoked = same.find((entry) => entry.marker === "@revoked");
  if (revoked) {
    return reject(
      `The SSH host key of ${server.target} (${server.type} ${server.fingerprint}) is marked @revoked in ${file} line ${String(revoked.line)}. Do not connect until the server has a new key.`,
    );
  }
  const match = same.find((entry) => entry.marker === "");
  if (match) {
    return {
      ok: true,
      note: `host key ${server.type} ${server.fingerprint} found in ${file} line ${String(match.line)}`,
    };
  }
  const known = forHost.filter((entry) => entry.marker === "");
  const sameType = known.filter((entry) => entry.keyType === server.type);
  const keyscan = `ssh-keyscan -t ${server.type} ${port === 22 ? "" : `-p ${String(port)} `}${host} >> ${file}`;
  if (sameType.length > 0) {
    const listed = sameType
      .map((entry) => `${fingerprint(entry.key)} (line ${String(entry.line)})`)
      .join(", ");
    return reject(
      `The SSH host key of ${server.target} CHANGED: ${file} lists ${server.type} ${listed} for ${name}, but the server presented ${server.fingerprint}. Someone may be intercepting the connection, or the server was reinstalled. Only if the change is expected, remove the old entry (ssh-keygen -R '${name}' -f ${file}) and add the new key (${keyscan}, after checking the fingerprint).`,
    );
  }
  const others =
    known.length > 0
      ? ` (the file lists only ${[...new Set(known.map((entry) => entry.keyType))].join(", ")} keys for it)`
      : "";
  return reject(
    `The SSH host key of ${server.target} is not in ${file}${others}: the server presented the ${server.type} key ${server.fingerprint}. After checking that fingerprint with the server's administrator, add it (${keyscan}) or trust it with --set hostKeyTrust=fingerprint --set hostKey=${server.fingerprint}.`,
  );
}

/** Host key algorithms to ask for first: those of the key types known_hosts lists for the host. */
export function knownAlgorithms(
  entries: readonly KnownHost[],
  host: string,
  port: number,
): string[] {
  const types = entries
    .filter((entry) => entry.marker === "" && hostMatches(entry.hosts, host, port))
    .map((entry) => entry.keyType);
  return [...new Set(types.flatMap(algorithmsForKeyType))];
}

function reject(message: string): HostKeyVerdict {
  return { ok: false, error: new StorageError("HOST_KEY", message, { retriable: false }) };
}
