/**
 * The one place where FTP replies and FTP-connection failures become StorageErrors. The raw
 * reply (or Node error) is kept as `cause`; messages name the action, quote the reply and end
 * with the fix.
 */
import { FTPError } from "basic-ftp";
import { StorageError, fromNodeError, type StorageErrorCode } from "../errors.ts";

/** One complete FTP reply: code and full text (lines joined with `\n`, code included). */
export interface FtpReply {
  readonly code: number;
  readonly message: string;
}

/** An FTP reply that was not what the operation needed; kept as the `cause` of a StorageError. */
export class FtpReplyError extends Error {
  override readonly name = "FtpReplyError";
  readonly code: number;
  readonly reply: string;

  constructor(reply: FtpReply) {
    super(reply.message);
    this.code = reply.code;
    this.reply = reply.message;
  }
}

const NOT_FOUND_TEXT =
  /no such|not found|does ?n[o']t exist|not exist|cannot find|can't find|could not find|unknown file|no files found/i;
const EXISTS_TEXT = /already exists|file exists|directory exists|exists$/i;
const PERMISSION_TEXT = /permission|denied|not allowed|forbidden|access|not permitted|read-only/i;

/**
 * What a 550 (or 553) reply means, from its text: servers use it for missing files, existing
 * files and refusals alike. `undefined` when the text does not say (vsftpd: `550 Delete
 * operation failed.`); callers then disambiguate with a stat.
 */
export function classify550(message: string): "NOT_FOUND" | "EXISTS" | "PERMISSION" | undefined {
  const text = message.replace(/^\d{3}[ -]/gm, "");
  if (NOT_FOUND_TEXT.test(text)) return "NOT_FOUND";
  if (EXISTS_TEXT.test(text.trim())) return "EXISTS";
  if (PERMISSION_TEXT.test(text)) return "PERMISSION";
  return undefined;
}

/** The FTP reply behind an error, when it came from the server. */
export function replyOf(error: unknown): FtpReply | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof FtpReplyError) return { code: current.code, message: current.reply };
    if (current instanceof FTPError) return { code: current.code, message: current.message };
    current = current.cause;
  }
  return undefined;
}

/** A reply shown in a message: one line, quoted. */
export function quoteReply(message: string): string {
  const lines = message.split(/\r?\n/).filter((line) => line.trim() !== "");
  const shown = lines.length <= 2 ? lines.join(" ") : `${lines[0] ?? ""} … ${lines.at(-1) ?? ""}`;
  return `"${shown.length > 300 ? `${shown.slice(0, 300)}…` : shown}"`;
}

interface Translation {
  code: StorageErrorCode;
  fix: string;
  retriable?: boolean;
}

function translateCode(reply: FtpReply): Translation {
  const text = reply.message;
  switch (reply.code) {
    case 530:
      if (/encrypt|tls|ssl|secure/i.test(text)) {
        return { code: "TLS", fix: "The server requires TLS: set tls=explicit (or tls=implicit)." };
      }
      return { code: "AUTH", fix: "Check user and password (or anonymous=true)." };
    case 331:
    case 332:
    case 532:
      return { code: "AUTH", fix: "The server asks for an account: set account=<account>." };
    case 421:
      if (/time ?out|timed out|idle/i.test(text)) {
        return {
          code: "CONNECTION",
          fix: "The server closed an idle session; it will be reopened.",
        };
      }
      return {
        code: "LIMIT",
        fix: "The server limits connections: lower maxConnections (the pool also adapts).",
      };
    case 425:
    case 426:
      return {
        code: "CONNECTION",
        fix: "The data connection failed: check firewalls, or try passiveCommand=pasv|epsv, passiveAddress=control or passive=false.",
      };
    case 450:
    case 451:
      return {
        code: "CONNECTION",
        fix: "The server aborted the transfer; it will be retried. If this repeats over TLS 1.3, set tlsMaxVersion=1.2.",
        retriable: true,
      };
    case 452:
    case 552:
      return { code: "NO_SPACE", fix: "Free space on the server or raise the quota." };
    case 522:
      if (/reuse|resum/i.test(text)) {
        return {
          code: "TLS",
          fix: "The server requires TLS session reuse on data connections: set tlsSessionReuse=true, or tlsMaxVersion=1.2 if it still fails.",
        };
      }
      return {
        code: "TLS",
        fix: "The server requires protected data connections: set protectData=true (and check tlsMinVersion/tlsMaxVersion).",
      };
    case 431:
    case 533:
    case 534:
    case 535:
    case 536:
      return {
        code: "TLS",
        fix: "The server refused the TLS/security request: check tls, protectData and clearControl.",
      };
    case 500:
    case 502:
    case 504:
      return { code: "UNSUPPORTED", fix: "The server does not support this command." };
    case 501:
      if (NOT_FOUND_TEXT.test(text)) return { code: "NOT_FOUND", fix: "" };
      return { code: "UNSUPPORTED", fix: "The server does not accept this command or argument." };
    case 550:
    case 553: {
      const kind = classify550(text) ?? "PERMISSION";
      const fix =
        kind === "PERMISSION" ? "Check that the path exists and that the user may access it." : "";
      return { code: kind, fix };
    }
    default:
      if (reply.code >= 400 && reply.code < 500) {
        return {
          code: "PROTOCOL",
          fix: "A temporary server error; it will be retried.",
          retriable: true,
        };
      }
      return {
        code: "PROTOCOL",
        fix: "See the protocol log (protocolLog=<file>) for the exchange.",
      };
  }
}

/** Builds the StorageError for one unwanted reply. `what` names the action: `Deleting "/a/b"`. */
export function replyError(reply: FtpReply, what: string, key?: string): StorageError {
  const { code, fix, retriable } = translateCode(reply);
  const detail =
    code === "NOT_FOUND" ? "it does not exist" : code === "EXISTS" ? "it already exists" : "";
  const said = `the server answered ${quoteReply(reply.message)}`;
  const message = `${what} failed: ${detail === "" ? said : `${detail} (${said})`}.${fix === "" ? "" : ` ${fix}`}`;
  return new StorageError(code, message, {
    cause: new FtpReplyError(reply),
    ...(retriable === undefined ? {} : { retriable }),
    ...(key === undefined ? {} : { key }),
  });
}

const TLS_CODE = /^(ERR_SSL|ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL|EPROTO$)/;

/**
 * Translates anything an FTP operation can fail with (a reply, a StorageError, a Node socket or
 * TLS error, a basic-ftp context error) into a StorageError.
 */
export function translateFtpError(error: unknown, what: string, key?: string): StorageError {
  if (error instanceof StorageError) return error;
  const reply =
    error instanceof FtpReplyError || error instanceof FTPError ? replyOf(error) : undefined;
  if (reply !== undefined) return replyError(reply, what, key);
  const opts = { cause: error, ...(key === undefined ? {} : { key }) };
  const code = (error as { code?: unknown } | null)?.code;
  const text = error instanceof Error ? error.message : String(error);
  if (
    (typeof code === "string" && TLS_CODE.test(code)) ||
    /\bSSL\b|\bTLS\b|certificate/i.test(text)
  ) {
    return new StorageError(
      "TLS",
      `${what} failed: TLS error (${text}). Check tls, tlsMinVersion/tlsMaxVersion and tlsTrust.`,
      opts,
    );
  }
  if (/^Timeout \((control|data) socket\)/.test(text)) {
    return new StorageError(
      "TIMEOUT",
      `${what} failed: the server did not answer in time (${text}). Raise idleTimeout if the server is slow.`,
      opts,
    );
  }
  if (
    /closed connection unexpectedly|FIN packet|Client is closed|Socket closed due to transmission error|User closed client/.test(
      text,
    )
  ) {
    return new StorageError(
      "CONNECTION",
      `${what} failed: the connection to the server was lost (${text}).`,
      opts,
    );
  }
  return fromNodeError(error, what, key);
}
