import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { openCatalogDatabase } from "./database.ts";
import { Destinations } from "./destinations.ts";
import { loadMasterKey } from "./master-key.ts";
import { ensureCatalogDir, MASTER_KEY_FILE } from "./paths.ts";

/** How to find the catalog and its master key. */
export interface OpenCatalogOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** A shell command printing the master key, used when `FERRY_MASTER_KEY` is unset. */
  readonly masterKeyCommand?: string | undefined;
}

/** An open catalog: the database and the repositories over it. Close it when done. */
export interface Catalog {
  readonly dir: string;
  readonly db: DatabaseSync;
  readonly destinations: Destinations;
  close(): void;
}

/** Opens the local catalog, creating its directory, database and master key on first use. */
export function openCatalog(options: OpenCatalogOptions = {}): Catalog {
  const env = options.env ?? process.env;
  const dir = ensureCatalogDir(env);
  const key = loadMasterKey({
    keyFile: join(dir, MASTER_KEY_FILE),
    masterKeyCommand: options.masterKeyCommand,
    env,
  });
  const db = openCatalogDatabase(dir);
  return {
    dir,
    db,
    destinations: new Destinations(db, key),
    close: () => {
      db.close();
    },
  };
}
