import type { DatabaseSync } from "node:sqlite";
import { CatalogError } from "./errors.ts";
import { transaction } from "./transaction.ts";

/**
 * The catalog schema, one SQL step per version: step i takes `PRAGMA user_version` from i to i + 1.
 * Append only; never edit a step that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE destinations (
    id INTEGER PRIMARY KEY,
    name TEXT UNIQUE NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    type TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    owner TEXT,
    read_only INTEGER NOT NULL DEFAULT 0,
    free_space_limit TEXT,
    notes TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
  );
  CREATE TABLE secrets (
    destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sealed TEXT NOT NULL,
    PRIMARY KEY (destination_id, name)
  );
  CREATE TABLE trust_pins (
    destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('certificate', 'host-key')),
    fingerprint TEXT NOT NULL,
    first_seen TEXT,
    PRIMARY KEY (destination_id, kind)
  );
  CREATE TABLE generated_keys (
    destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    public_key TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    created TEXT NOT NULL
  );
  CREATE INDEX generated_keys_destination ON generated_keys (destination_id);
  CREATE TABLE test_results (
    destination_id INTEGER NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    time TEXT NOT NULL,
    ok INTEGER NOT NULL,
    summary_json TEXT NOT NULL
  );
  CREATE INDEX test_results_destination ON test_results (destination_id, time);
  `,
];

/** The schema version the database is at. */
export function schemaVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get();
  const version = row?.["user_version"];
  return typeof version === "number" ? version : 0;
}

/**
 * Brings the database up to `migrations.length`, all pending steps in one transaction so a
 * failure leaves the old version intact. Refuses a database written by a newer ferry.
 */
export function migrate(
  db: DatabaseSync,
  migrations: readonly string[] = MIGRATIONS,
  label = "The catalog",
): void {
  const target = migrations.length;
  transaction(db, () => {
    const current = schemaVersion(db);
    if (current > target) {
      throw new CatalogError(
        "SCHEMA",
        `${label} has schema version ${current}, but this ferry only knows up to version ${target}; upgrade ferry to use it`,
      );
    }
    for (let version = current; version < target; version++) {
      db.exec(migrations[version] ?? "");
      // user_version lives in the database header, which the transaction covers too.
      db.exec(`PRAGMA user_version = ${version + 1}`);
    }
  });
}
