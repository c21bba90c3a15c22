/**
 * Loads the private key of `auth=key`: OpenSSH (`BEGIN OPENSSH PRIVATE KEY`), classic PEM
 * (`BEGIN RSA/EC PRIVATE KEY`, optionally encrypted) and PKCS#8 PEM (`BEGIN [ENCRYPTED] PRIVATE
 * KEY`, which ssh2 cannot parse: ed25519 keys written by OpenSSL land there, ssh2#1303). PKCS#8
 * keys are decrypted with Node's crypto and handed to ssh2 in a form it reads.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import ssh2, { type ParsedKey } from "ssh2";
import { StorageError, fromNodeError } from "../errors.ts";

const { utils } = ssh2;

/** `~/x` → the home directory's `x`. */
export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? homedir() + path.slice(1) : path;
}

/**
 * Reads and parses the key file. Rejects with INVALID (unreadable, not a private key, unsupported
 * format) or AUTH (encrypted without a passphrase, wrong passphrase), naming the file.
 */
export async function loadPrivateKey(path: string, passphrase?: string): Promise<ParsedKey> {
  const file = expandHome(path);
  const text = await readFile(file, "utf8").catch((error: unknown) => {
    throw fromNodeError(error, `Reading the private key file "${file}" (privateKey)`);
  });
  return parsePrivateKey(text, file, passphrase);
}

/** Parses key text; `file` only names it in messages. */
export function parsePrivateKey(text: string, file: string, passphrase?: string): ParsedKey {
  const trimmed = text.trim();
  const source = /^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(trimmed)
    ? fromPkcs8(trimmed, file, passphrase)
    : trimmed;
  const parsed = utils.parseKey(source, passphrase);
  if (parsed instanceof Error) throw keyError(parsed, file, passphrase);
  const key = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  if (key === undefined || !key.isPrivateKey()) {
    throw invalid(
      `The file "${file}" (privateKey) holds a public key. Give the private key file (usually the same name without .pub).`,
    );
  }
  return key;
}

function keyError(error: Error, file: string, passphrase: string | undefined): StorageError {
  const detail = error.message;
  if (/no passphrase given/i.test(detail)) {
    return new StorageError(
      "AUTH",
      `The private key "${file}" is encrypted: a passphrase is needed. Give it with --passphrase-file or FERRY_DESTINATION_PASSPHRASE.`,
      { cause: error, retriable: false },
    );
  }
  if (passphrase !== undefined && /bad passphrase|decrypt|integrity|malformed/i.test(detail)) {
    return new StorageError(
      "AUTH",
      `The private key "${file}" could not be decrypted: the passphrase is probably wrong. Check the passphrase setting.`,
      { cause: error, retriable: false },
    );
  }
  return invalid(
    `The file "${file}" (privateKey) is not a private key ssh2 can use (${detail}). Use an OpenSSH or PEM ed25519, ecdsa or rsa key (ssh-keygen -t ed25519).`,
    error,
  );
}

/** PKCS#8 → a format ssh2 parses: PKCS#1 (rsa), SEC1 (ecdsa) or an unencrypted OpenSSH blob (ed25519). */
function fromPkcs8(text: string, file: string, passphrase: string | undefined): string {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: "pem", ...(passphrase ? { passphrase } : {}) });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_MISSING_PASSPHRASE" || (!passphrase && /ENCRYPTED/.test(text))) {
      throw keyError(new Error("no passphrase given"), file, passphrase);
    }
    if (passphrase) throw keyError(new Error(`cannot decrypt: ${String(code)}`), file, passphrase);
    throw keyError(error as Error, file, passphrase);
  }
  switch (key.asymmetricKeyType) {
    case "rsa":
      return key.export({ type: "pkcs1", format: "pem" }).toString();
    case "ec":
      return key.export({ type: "sec1", format: "pem" }).toString();
    case "ed25519":
      return openSshEd25519(key);
    default:
      throw invalid(
        `The key in "${file}" (privateKey) is a ${String(key.asymmetricKeyType)} key; SSH needs ed25519, ecdsa or rsa.`,
      );
  }
}

/** An unencrypted `openssh-key-v1` PEM for an ed25519 key (PROTOCOL.key in OpenSSH). */
function openSshEd25519(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d ?? "", "base64url");
  const pub = Buffer.from(jwk.x ?? "", "base64url");
  const string = (data: Buffer | string) => {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const publicBlob = Buffer.concat([string("ssh-ed25519"), string(pub)]);
  const check = Buffer.alloc(4);
  check.writeUInt32BE(0x66657272); // any value, written twice: "ferr"
  let secret = Buffer.concat([
    check,
    check,
    string("ssh-ed25519"),
    string(pub),
    string(Buffer.concat([seed, pub])),
    string(""),
  ]);
  const padding = Buffer.from([1, 2, 3, 4, 5, 6, 7].slice(0, (8 - (secret.length % 8)) % 8));
  secret = Buffer.concat([secret, padding]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    string("none"),
    string("none"),
    string(""),
    count,
    string(publicBlob),
    string(secret),
  ]);
  const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----`;
}

function invalid(message: string, cause?: unknown): StorageError {
  return new StorageError("INVALID", message, cause === undefined ? {} : { cause });
}
