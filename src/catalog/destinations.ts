import type { DatabaseSync, SQLOutputValue } from "node:sqlite";
import {
  checkDestinationName,
  checkSettingsHoldNoSecrets,
  nameTaken,
  notFound,
} from "./destination-rules.ts";
import { CatalogError } from "./errors.ts";
import { openSecret, sealSecret } from "./secrets.ts";
import { transaction } from "./transaction.ts";

/** What `add` takes: plain settings and, apart, the secrets that are sealed before storing. */
export interface NewDestination {
  readonly name: string;
  readonly type: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly secrets?: Readonly<Record<string, string>>;
  readonly owner?: string | null;
  readonly readOnly?: boolean;
  readonly freeSpaceLimit?: string | null;
  readonly notes?: string | null;
}

/** Changes for `update`; a secret set to null is deleted. Use `rename` for the name. */
export interface DestinationPatch {
  readonly type?: string;
  readonly settings?: Readonly<Record<string, unknown>>;
  readonly secrets?: Readonly<Record<string, string | null>>;
  readonly owner?: string | null;
  readonly readOnly?: boolean;
  readonly freeSpaceLimit?: string | null;
  readonly notes?: string | null;
}

/** A catalog entry as read back; secrets appear by name only (see `Destinations.secret`). */
export interface Destination {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly settings: Record<string, unknown>;
  readonly secretNames: readonly string[];
  readonly owner: string | null;
  readonly readOnly: boolean;
  readonly freeSpaceLimit: string | null;
  readonly notes: string | null;
  readonly created: string;
  readonly updated: string;
}

type Row = Record<string, SQLOutputValue>;

/** The context a destination's secret is sealed under: the id, so a rename keeps it valid. */
export function secretContext(id: number, secretName: string): string {
  return `destination:${id}:${secretName}`;
}

/** The destinations in the catalog, with their secrets sealed under the master key. */
export class Destinations {
  readonly #db: DatabaseSync;
  readonly #key: Uint8Array;
  readonly #now: () => string;

  constructor(
    db: DatabaseSync,
    key: Uint8Array,
    now: () => string = () => new Date().toISOString(),
  ) {
    this.#db = db;
    this.#key = key;
    this.#now = now;
  }

  /** Adds a destination; fails if the name is invalid or taken. */
  add(entry: NewDestination): Destination {
    checkDestinationName(entry.name);
    checkSettingsHoldNoSecrets(entry.settings);
    return transaction(this.#db, () => {
      if (this.#row(entry.name)) throw nameTaken(entry.name);
      const now = this.#now();
      const result = this.#db
        .prepare(
          `INSERT INTO destinations (name, type, settings_json, owner, read_only, free_space_limit, notes, created, updated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          entry.name,
          entry.type,
          JSON.stringify(entry.settings),
          entry.owner ?? null,
          entry.readOnly === true ? 1 : 0,
          entry.freeSpaceLimit ?? null,
          entry.notes ?? null,
          now,
          now,
        );
      const id = Number(result.lastInsertRowid);
      for (const [secretName, value] of Object.entries(entry.secrets ?? {})) {
        this.#putSecret(id, secretName, value);
      }
      return this.#require(entry.name);
    });
  }

  /** The destination with this name, or undefined. */
  get(name: string): Destination | undefined {
    const row = this.#row(name);
    return row && this.#toDestination(row);
  }

  /** All destinations, by name. */
  list(): Destination[] {
    const rows = this.#db.prepare("SELECT * FROM destinations ORDER BY name").all();
    return rows.map((row) => this.#toDestination(row));
  }

  /** Applies `patch` to the named destination and returns it as stored. */
  update(name: string, patch: DestinationPatch): Destination {
    if (patch.settings) checkSettingsHoldNoSecrets(patch.settings);
    return transaction(this.#db, () => {
      const current = this.#require(name);
      this.#db
        .prepare(
          `UPDATE destinations SET type = ?, settings_json = ?, owner = ?, read_only = ?,
             free_space_limit = ?, notes = ?, updated = ? WHERE id = ?`,
        )
        .run(
          patch.type ?? current.type,
          JSON.stringify(patch.settings ?? current.settings),
          patch.owner === undefined ? current.owner : patch.owner,
          (patch.readOnly ?? current.readOnly) ? 1 : 0,
          patch.freeSpaceLimit === undefined ? current.freeSpaceLimit : patch.freeSpaceLimit,
          patch.notes === undefined ? current.notes : patch.notes,
          this.#now(),
          current.id,
        );
      for (const [secretName, value] of Object.entries(patch.secrets ?? {})) {
        if (value === null) {
          this.#db
            .prepare("DELETE FROM secrets WHERE destination_id = ? AND name = ?")
            .run(current.id, secretName);
        } else {
          this.#putSecret(current.id, secretName, value);
        }
      }
      return this.#require(name);
    });
  }

  /** Renames a destination; its secrets, pins and history follow it (they hang off the id). */
  rename(oldName: string, newName: string): Destination {
    checkDestinationName(newName);
    return transaction(this.#db, () => {
      const current = this.#require(oldName);
      if (newName === oldName) return current;
      if (this.#row(newName)) throw nameTaken(newName);
      this.#db
        .prepare("UPDATE destinations SET name = ?, updated = ? WHERE id = ?")
        .run(newName, this.#now(), current.id);
      return this.#require(newName);
    });
  }

  /** Deletes a destination with its secrets, pins, keys and test results. */
  remove(name: string): void {
    const result = this.#db.prepare("DELETE FROM destinations WHERE name = ?").run(name);
    if (result.changes === 0) throw notFound(name);
  }

  /** Decrypts one secret of the named destination, or undefined if it has none by that name. */
  secret(name: string, secretName: string): string | undefined {
    const { id } = this.#require(name);
    const row = this.#db
      .prepare("SELECT sealed FROM secrets WHERE destination_id = ? AND name = ?")
      .get(id, secretName);
    const sealed = row?.["sealed"];
    if (sealed === undefined) return undefined;
    return openSecret(this.#key, text(sealed, "sealed"), secretContext(id, secretName));
  }

  #putSecret(id: number, secretName: string, value: string): void {
    if (secretName === "") throw new CatalogError("INVALID", "A secret needs a name");
    this.#db
      .prepare(
        `INSERT INTO secrets (destination_id, name, sealed) VALUES (?, ?, ?)
         ON CONFLICT (destination_id, name) DO UPDATE SET sealed = excluded.sealed`,
      )
      .run(id, secretName, sealSecret(this.#key, value, secretContext(id, secretName)));
  }

  #row(name: string): Row | undefined {
    return this.#db.prepare("SELECT * FROM destinations WHERE name = ?").get(name);
  }

  #require(name: string): Destination {
    const row = this.#row(name);
    if (!row) throw notFound(name);
    return this.#toDestination(row);
  }

  #toDestination(row: Row): Destination {
    const id = Number(row["id"]);
    const secretNames = this.#db
      .prepare("SELECT name FROM secrets WHERE destination_id = ? ORDER BY name")
      .all(id)
      .map((secretRow) => text(secretRow["name"], "name"));
    return {
      id,
      name: text(row["name"], "name"),
      type: text(row["type"], "type"),
      settings: JSON.parse(text(row["settings_json"], "settings_json")) as Record<string, unknown>,
      secretNames,
      owner: optionalText(row["owner"]),
      readOnly: row["read_only"] === 1,
      freeSpaceLimit: optionalText(row["free_space_limit"]),
      notes: optionalText(row["notes"]),
      created: text(row["created"], "created"),
      updated: text(row["updated"], "updated"),
    };
  }
}

function text(value: SQLOutputValue | undefined, column: string): string {
  if (typeof value !== "string") {
    throw new CatalogError("INVALID", `The catalog column ${column} does not hold text`);
  }
  return value;
}

function optionalText(value: SQLOutputValue | undefined): string | null {
  return typeof value === "string" ? value : null;
}
