/**
 * Redaction of secrets in text meant for people and logs: URL passwords, secret query
 * parameters and proxy credentials. One place, used by errors, warnings, the CLI and the
 * protocol log.
 */

/** Settings whose values are secrets: never logged, printed or quoted in an error. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set(["password", "passphrase", "account"]);

/** `scheme://user:secret@host` → `scheme://user:****@host`, up to the last `@` of the token. */
export function maskUserinfo(text: string): string {
  return text.replace(/(\/\/[^:/@\s]*:)\S*@/g, "$1****@");
}

/**
 * A destination URL with every secret replaced by `****`: the password in the userinfo, the
 * secret query parameters (password, passphrase, account) and the proxy's credentials.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return maskUserinfo(text).replace(/([?&](?:password|passphrase|account)=)[^&]*/gi, "$1****");
  }
  if (url.password !== "") url.password = "****";
  for (const [name, value] of [...url.searchParams]) {
    if (SECRET_SETTINGS.has(name)) url.searchParams.set(name, "****");
    else if (name === "proxy") url.searchParams.set(name, maskUserinfo(value));
  }
  return url.toString().replace(/%2A%2A%2A%2A/g, "****");
}

/** The decoded credentials of a proxy URL, to register as protocol-log secrets. */
export function proxySecrets(proxy: string | undefined): string[] {
  if (proxy === undefined) return [];
  try {
    const url = new URL(proxy);
    return [url.password, safeDecode(url.password)].filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
