import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { migrate, MIGRATIONS } from "./migrations.ts";
import { CATALOG_FILE } from "./paths.ts";

/**
 * Opens (creating if needed) `catalog.db` in `dir` with WAL and foreign keys on, and migrates
 * it to the current schema.
 */
export function openCatalogDatabase(
  dir: string,
  migrations: readonly string[] = MIGRATIONS,
): DatabaseSync {
  const path = join(dir, CATALOG_FILE);
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA foreign_keys = ON");
    // Another ferry process (a daemon, a second shell) may hold the write lock briefly.
    db.exec("PRAGMA busy_timeout = 5000");
    migrate(db, migrations, `The catalog ${path}`);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
