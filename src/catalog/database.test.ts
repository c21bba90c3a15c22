import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { openCatalogDatabase } from "./database.ts";
import { MIGRATIONS, schemaVersion } from "./migrations.ts";
import { tempDir } from "./temp-dir.test-helper.ts";

function tables(db: DatabaseSync): string[] {
  return db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .all()
    .map((row) => String(row["name"]));
}

describe("catalog database", () => {
  it("migrates an empty database to the current schema with WAL and foreign keys", () => {
    const db = openCatalogDatabase(tempDir());
    assert.equal(schemaVersion(db), MIGRATIONS.length);
    assert.deepEqual(tables(db), [
      "destinations",
      "generated_keys",
      "secrets",
      "test_results",
      "trust_pins",
    ]);
    assert.equal(db.prepare("PRAGMA journal_mode").get()?.["journal_mode"], "wal");
    assert.equal(db.prepare("PRAGMA foreign_keys").get()?.["foreign_keys"], 1);
    db.close();
  });

  it("reopens without reapplying migrations", () => {
    const dir = tempDir();
    const first = openCatalogDatabase(dir);
    first.exec(
      "INSERT INTO destinations (name, type, settings_json, created, updated) VALUES ('a', 'local', '{}', 'now', 'now')",
    );
    first.close();
    const again = openCatalogDatabase(dir);
    assert.equal(schemaVersion(again), MIGRATIONS.length);
    assert.equal(again.prepare("SELECT count(*) AS n FROM destinations").get()?.["n"], 1);
    again.close();
  });

  it("applies only pending steps, and none of a failing batch", () => {
    const dir = tempDir();
    openCatalogDatabase(dir).close();
    const extra = [...MIGRATIONS, "CREATE TABLE later (x INTEGER)"];
    const db = openCatalogDatabase(dir, extra);
    assert.equal(schemaVersion(db), extra.length);
    assert.ok(tables(db).includes("later"));
    db.close();
    const broken = [...extra, "CREATE TABLE ok (x INTEGER)", "NOT SQL"];
    assert.throws(() => openCatalogDatabase(dir, broken), /syntax error/);
    const after = openCatalogDatabase(dir, extra);
    assert.equal(schemaVersion(after), extra.length);
    assert.ok(!tables(after).includes("ok"));
    after.close();
  });

  it("refuses a database from a newer ferry", () => {
    const dir = tempDir();
    const raw = new DatabaseSync(join(dir, "catalog.db"));
    raw.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    assert.throws(() => openCatalogDatabase(dir), {
      message: new RegExp(`schema version ${MIGRATIONS.length + 1}.*upgrade ferry`),
    });
    const check = new DatabaseSync(join(dir, "catalog.db"));
    assert.equal(schemaVersion(check), MIGRATIONS.length + 1);
    check.close();
  });
});
