/**
 * What ssh2 knows but does not expose: the SFTP extensions the server announced and the read and
 * write sizes it negotiated (limits@openssh.com). Read from ssh2 1.17's private fields, in this
 * one file, with safe fallbacks should a later ssh2 rename them. Also the one place that touches
 * ssh2's private state: {@link useKeyObjects}.
 */
import { createSecretKey } from "node:crypto";
import type { Client, SFTPWrapper } from "ssh2";

interface Ssh2SftpPrivate {
  _extensions?: unknown;
  _maxReadLen?: unknown;
  _maxWriteLen?: unknown;
}

/** Extension name → data, as in the server's VERSION packet (`posix-rename@openssh.com` → `1`). */
export function sftpExtensions(sftp: SFTPWrapper): Record<string, string> {
  const extensions = (sftp as unknown as Ssh2SftpPrivate)._extensions;
  if (extensions === null || typeof extensions !== "object") return {};
  const result: Record<string, string> = {};
  for (const [name, data] of Object.entries(extensions)) {
    if (typeof data === "string") result[name] = data;
  }
  return result;
}

/** SFTP v3's safe size (34000-byte packets, what ssh2 assumes of servers other than OpenSSH). */
const SAFE_DATA_LENGTH = 32 * 1024;

/** Largest READ and WRITE data length ssh2 sends in one request to this server. */
export function sftpDataLimits(sftp: SFTPWrapper): { read: number; write: number } {
  const raw = sftp as unknown as Ssh2SftpPrivate;
  const pick = (value: unknown) =>
    typeof value === "number" && Number.isFinite(value) && value >= 1024 ? value : SAFE_DATA_LENGTH;
  return { read: pick(raw._maxReadLen), write: pick(raw._maxWriteLen) };
}

/**
 * The key fields of ssh2 1.17's pure-JS ciphers (used when its optional native binding is not
 * built), by class: each is a Buffer that ssh2 passes to createCipheriv, createDecipheriv or
 * createHmac for every packet, and to nothing else.
 */
const PER_PACKET_KEYS: Readonly<Record<string, readonly string[]>> = {
  AESGCMCipherNative: ["_encKey"],
  AESGCMDecipherNative: ["_decipherKey"],
  GenericCipherNative: ["_macKey"],
  GenericDecipherNative: ["_macKey"],
  ChaChaPolyCipherNative: ["_encKeyMain", "_encKeyPktLen"],
  ChaChaPolyDecipherNative: ["_decKeyMain", "_decKeyPktLen"],
};

interface Ssh2ClientPrivate {
  _protocol?: { _cipher?: unknown; _decipher?: unknown };
}

/**
 * Hands ssh2's per-packet cipher and MAC keys to Node as KeyObjects instead of Buffers. ssh2's
 * JS AES-GCM creates a cipher for every SSH packet (32 KiB on OpenSSH), and Node 24's
 * createCipheriv asks `isKeyObject(key)` by catching a thrown TypeError, so a Buffer key costs an
 * exception with a captured stack trace per packet: 22.7 µs per 32 KiB AES-128-GCM packet with a
 * Buffer key vs 9.2 µs with a KeyObject (Node 24.21, this machine; Node 20: 13 µs either way).
 * That was ~20% of the CPU of an upload, in both directions. The bytes are the same; only the
 * wrapper changes. Called on every 'handshake' (ssh2 builds new cipher objects on each rekey, and
 * both are in place when it emits the event). Does nothing for classes or fields it does not
 * know, so a different ssh2 (or its native binding) is left alone. Returns the fields converted.
 */
export function useKeyObjects(client: Client): number {
  const protocol = (client as unknown as Ssh2ClientPrivate)._protocol;
  let converted = 0;
  for (const cipher of [protocol?._cipher, protocol?._decipher]) {
    if (cipher === null || typeof cipher !== "object") continue;
    const fields = PER_PACKET_KEYS[cipher.constructor.name];
    if (fields === undefined) continue;
    const state = cipher as Record<string, unknown>;
    for (const field of fields) {
      const key = state[field];
      if (Buffer.isBuffer(key) && key.length > 0) {
        state[field] = createSecretKey(key);
        converted++;
      }
    }
  }
  return converted;
}
