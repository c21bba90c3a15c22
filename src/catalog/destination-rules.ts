import { CatalogError } from "./errors.ts";

/** The longest destination name, in characters (code points, as SQLite's length() counts). */
export const MAX_NAME_LENGTH = 40;

/** Setting keys that are always secrets: they must go in `secrets`, never in `settings_json`. */
export const SECRET_SETTING_NAMES: readonly string[] = ["password", "passphrase", "privateKey"];

/** Throws unless `name` is 1–40 characters without control characters. */
export function checkDestinationName(name: string): void {
  const length = Array.from(name).length;
  if (length < 1 || length > MAX_NAME_LENGTH) {
    throw new CatalogError(
      "NAME",
      `A destination name must be 1 to ${MAX_NAME_LENGTH} characters long (got ${length})`,
    );
  }
  if (/\p{Cc}/u.test(name)) {
    throw new CatalogError("NAME", `A destination name must not contain control characters`);
  }
}

/** Throws if a known secret was put among the plain settings, which are stored unencrypted. */
export function checkSettingsHoldNoSecrets(settings: Readonly<Record<string, unknown>>): void {
  for (const key of SECRET_SETTING_NAMES) {
    if (key in settings) {
      throw new CatalogError(
        "INVALID",
        `The setting "${key}" is a secret: pass it in secrets so it is stored encrypted`,
      );
    }
  }
}

/** The error for a name that is taken, with the way out. */
export function nameTaken(name: string): CatalogError {
  return new CatalogError(
    "EXISTS",
    `A destination named "${name}" already exists; choose another name or use "ferry destination edit ${name}"`,
  );
}

/** The error for a name that is not in the catalog. */
export function notFound(name: string): CatalogError {
  return new CatalogError(
    "NOT_FOUND",
    `No destination named "${name}"; "ferry destination list" shows the ones there are`,
  );
}
