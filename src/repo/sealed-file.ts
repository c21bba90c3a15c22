/**
 * Sealed repository files (config, index, snapshot, lock): JSON, framed (zstd when it helps),
 * sealed with the kind as associated data. Named by the SHA-256 of the stored bytes, except locks.
 */
import { createHash } from "node:crypto";
import { frame, unframe, DEFAULT_ZSTD_LEVEL } from "./codec.ts";
import { open, seal, type AeadName } from "./crypto.ts";
import { RepoError } from "./errors.ts";
import { fileAd, type FileKind } from "./layout.ts";

/** Seals a JSON value as a file of `kind`. */
export function sealJson(aead: AeadName, key: Uint8Array, kind: FileKind, value: unknown): Buffer {
  const json = new TextEncoder().encode(JSON.stringify(value));
  return seal(aead, key, frame(json, DEFAULT_ZSTD_LEVEL), fileAd(kind));
}

/** Opens a sealed JSON file of `kind`; DAMAGED (naming `what`) when it fails in any way. */
export function openJson(
  key: Uint8Array,
  kind: FileKind,
  bytes: Uint8Array,
  what: string,
): unknown {
  const plain = unframe(open(key, bytes, fileAd(kind), what), what);
  try {
    return JSON.parse(plain.toString("utf8")) as unknown;
  } catch (error) {
    throw new RepoError("DAMAGED", `${what} is not valid JSON.`, { cause: error });
  }
}

/** The content name of stored bytes: lowercase hex SHA-256. */
export function contentName(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A zod-like schema: only `safeParse` is needed. */
export interface Schema<T> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: { message: string; path: PropertyKey[] }[] } };
}

/** Validates decoded JSON; DAMAGED naming `what`, the path of the first problem and why. */
export function decodeJson<T>(schema: Schema<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RepoError(
      "DAMAGED",
      `${what} is malformed at ${issue?.path.map(String).join(".") ?? "?"}: ${issue?.message ?? ""}.`,
    );
  }
  return parsed.data;
}
