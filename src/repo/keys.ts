/**
 * Key files: the master keys wrapped by a key derived from one password (Argon2id, or scrypt
 * where node:crypto has no Argon2). A repository may have several; any one opens it.
 */
import { argon2Sync, randomBytes, scryptSync } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { z } from "zod";
import { open, seal, type MasterKeys } from "./crypto.ts";
import { RepoError } from "./errors.ts";
import { fileAd } from "./layout.ts";
import { contentName } from "./sealed-file.ts";

const b64 = z.base64();

const kdfSchema = z.discriminatedUnion("name", [
  z.object({
    name: z.literal("argon2id"),
    memoryKiB: z
      .int()
      .min(8)
      .max(4 * 1024 * 1024),
    passes: z.int().min(1).max(64),
    parallelism: z.int().min(1).max(64),
    salt: b64,
  }),
  z.object({
    name: z.literal("scrypt"),
    n: z
      .int()
      .min(2)
      .max(2 ** 24),
    r: z.int().min(1).max(64),
    p: z.int().min(1).max(64),
    salt: b64,
  }),
]);

/** How a password becomes a key-wrapping key; stored in the key file. */
export type KdfParams = z.infer<typeof kdfSchema>;

const keyFileSchema = z.object({
  version: z.literal(1),
  created: z.iso.datetime(),
  host: z.string(),
  user: z.string(),
  kdf: kdfSchema,
  data: b64,
});

/** A key file as stored (plaintext JSON; `data` is the sealed master keys). */
export type KeyFile = z.infer<typeof keyFileSchema>;

const masterSchema = z.object({ encryption: b64, mac: b64, chunker: b64 });

/** Cost settings for new keys; tests pass cheap ones. */
export interface KdfCost {
  memoryKiB: number;
  passes: number;
  parallelism: number;
}

/**
 * Argon2id with 46 MiB and one pass: the first configuration OWASP's password storage guidance
 * recommends, and more memory than restic's scrypt (N=2^15, r=8: 32 MiB). About 50 ms here;
 * every command pays it once, so 64 MiB with 3 passes (0.18 s) was a quarter of an unchanged
 * backup. Stored per key file, so a repository keeps whatever its keys were made with.
 */
export const DEFAULT_KDF_COST: KdfCost = { memoryKiB: 47104, passes: 1, parallelism: 1 };

function newKdf(cost: KdfCost): KdfParams {
  const salt = randomBytes(16).toString("base64");
  if (typeof argon2Sync === "function") return { name: "argon2id", ...cost, salt };
  return { name: "scrypt", n: 2 ** 15, r: 8, p: 1, salt };
}

function derive(password: string, kdf: KdfParams): Buffer {
  const salt = Buffer.from(kdf.salt, "base64");
  if (kdf.name === "argon2id") {
    return argon2Sync("argon2id", {
      message: password,
      nonce: salt,
      parallelism: kdf.parallelism,
      tagLength: 32,
      memory: kdf.memoryKiB,
      passes: kdf.passes,
    });
  }
  return scryptSync(password, salt, 32, {
    N: kdf.n,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.n * kdf.r + 1024 * 1024,
  });
}

/** A new key file for `password` wrapping `master`; returns its bytes and name. */
export function createKeyFile(
  password: string,
  master: MasterKeys,
  cost: KdfCost = DEFAULT_KDF_COST,
  now: Date = new Date(),
): { name: string; bytes: Buffer } {
  const kdf = newKdf(cost);
  const wrapped = seal(
    "aes-256-gcm",
    derive(password, kdf),
    [
      new TextEncoder().encode(
        JSON.stringify({
          encryption: Buffer.from(master.encryption).toString("base64"),
          mac: Buffer.from(master.mac).toString("base64"),
          chunker: Buffer.from(master.chunker).toString("base64"),
        }),
      ),
    ],
    fileAd("key"),
  );
  const file: KeyFile = {
    version: 1,
    created: now.toISOString(),
    host: hostname(),
    user: safeUser(),
    kdf,
    data: wrapped.toString("base64"),
  };
  const bytes = Buffer.from(JSON.stringify(file, null, 2) + "\n");
  return { name: contentName(bytes), bytes };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}

/** Parses a key file; DAMAGED when it is not one. */
export function parseKeyFile(bytes: Uint8Array, name: string): KeyFile {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new RepoError("DAMAGED", `Key file keys/${name} is not valid JSON.`, { cause: error });
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new RepoError(
      "DAMAGED",
      `Key file keys/${name} is malformed: ${parsed.error.issues[0]?.message ?? ""}.`,
    );
  }
  return parsed.data;
}

/**
 * The master keys if `password` opens this key file, else undefined (wrong password). A key file
 * that opens but holds garbage is DAMAGED.
 */
export function unwrapKeyFile(
  file: KeyFile,
  password: string,
  name: string,
): MasterKeys | undefined {
  let plain: Buffer;
  try {
    plain = open(
      derive(password, file.kdf),
      Buffer.from(file.data, "base64"),
      fileAd("key"),
      `keys/${name}`,
    );
  } catch {
    return undefined;
  }
  const parsed = masterSchema.safeParse(JSON.parse(plain.toString("utf8")));
  if (!parsed.success)
    throw new RepoError("DAMAGED", `Key file keys/${name} holds malformed keys.`);
  const keys = {
    encryption: Buffer.from(parsed.data.encryption, "base64"),
    mac: Buffer.from(parsed.data.mac, "base64"),
    chunker: Buffer.from(parsed.data.chunker, "base64"),
  };
  if (keys.encryption.length !== 32 || keys.mac.length !== 32 || keys.chunker.length !== 32) {
    throw new RepoError("DAMAGED", `Key file keys/${name} holds keys of the wrong length.`);
  }
  return keys;
}
