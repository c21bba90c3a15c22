/** Why a catalog operation failed, for callers that react to the kind rather than the text. */
export type CatalogErrorCode =
  | "MASTER_KEY"
  | "SECRET"
  | "SCHEMA"
  | "NAME"
  | "EXISTS"
  | "NOT_FOUND"
  | "INVALID";

/** An error from the local catalog; its message is meant for the user and never holds a secret. */
export class CatalogError extends Error {
  readonly code: CatalogErrorCode;

  constructor(code: CatalogErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CatalogError";
    this.code = code;
  }
}
