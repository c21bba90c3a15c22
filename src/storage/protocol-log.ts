/**
 * The protocol log: every FTP command and reply, every SFTP request and status, with time,
 * connection id and direction. Secrets are masked here, in one place, before anything is
 * written: adapters may pass raw lines.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { StorageError } from "./errors.ts";
import { maskUserinfo } from "./redact.ts";

/** `>` sent to the server, `<` received, `*` a note from ferry (connect, TLS, retry). */
export type Direction = ">" | "<" | "*";

export interface ProtocolLog {
  /** Records one line. Never throws. */
  write(connection: number, direction: Direction, line: string): void;
  /** Registers a secret value to mask wherever it appears. */
  addSecret(secret: string | undefined): void;
}

const SECRET_COMMANDS = /^(PASS|ACCT)\s+.*/i;

/**
 * Masks secrets in one line: the argument of PASS and ACCT, and every registered secret value
 * (passwords, passphrases, proxy credentials) wherever it appears.
 */
export function maskLine(line: string, secrets: Iterable<string>): string {
  let masked = line.replace(SECRET_COMMANDS, (_all, command: string) => `${command} ****`);
  for (const secret of secrets) {
    if (secret.length > 0) masked = masked.split(secret).join("****");
  }
  return maskUserinfo(masked);
}

/** A log that drops everything (the default). */
export const silentLog: ProtocolLog = {
  write() {
    /* off */
  },
  addSecret() {
    /* nothing to mask */
  },
};

/** Appends to a file, one line per event: `2026-11-21T10:00:00.000Z #1 > PASV`. */
export class FileProtocolLog implements ProtocolLog {
  readonly path: string;
  readonly #secrets = new Set<string>();

  /** Creates the log's directory; throws a StorageError naming the path when it cannot. */
  constructor(path: string) {
    this.path = path;
    try {
      mkdirSync(dirname(path), { recursive: true });
      appendFileSync(path, "", { mode: 0o600 });
    } catch (error) {
      throw new StorageError(
        "INVALID",
        `Cannot write the protocol log "${path}": ${(error as Error).message}. Choose another path for --protocol-log.`,
        { cause: error, retriable: false },
      );
    }
  }

  addSecret(secret: string | undefined): void {
    if (secret !== undefined && secret.length > 0) this.#secrets.add(secret);
  }

  write(connection: number, direction: Direction, line: string): void {
    const text = `${new Date().toISOString()} #${String(connection)} ${direction} ${maskLine(line.trimEnd(), this.#secrets)}\n`;
    try {
      appendFileSync(this.path, text, { mode: 0o600 });
    } catch {
      // A log that cannot be written must never fail a backup.
    }
  }
}

/** Collects lines in memory; for tests and for `destination test --json`. */
export class MemoryProtocolLog implements ProtocolLog {
  readonly lines: string[] = [];
  readonly #secrets = new Set<string>();

  addSecret(secret: string | undefined): void {
    if (secret !== undefined && secret.length > 0) this.#secrets.add(secret);
  }

  write(connection: number, direction: Direction, line: string): void {
    this.lines.push(
      `#${String(connection)} ${direction} ${maskLine(line.trimEnd(), this.#secrets)}`,
    );
  }
}
