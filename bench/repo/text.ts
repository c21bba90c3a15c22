/**
 * Compressible text that looks like what servers hold: log lines with rising timestamps, source
 * code, and prose in a few languages. Built a line at a time from a seeded PRNG, so a file's text
 * is the same on every run; it compresses about as well as real logs and code (3–6× with zstd).
 */
import { Rng } from "./random.ts";

/** What kind of text a file holds. */
export type TextStyle = "log" | "source" | "prose";

const LEVELS = ["INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR"];
const COMPONENTS = ["http", "worker", "db", "cache", "auth", "mailer", "cron", "queue", "api"];
const MESSAGES = [
  "request completed",
  "connection accepted from",
  "query executed",
  "cache miss for key",
  "user logged in",
  "session expired",
  "retrying after timeout",
  "job finished",
  "upstream returned",
  "slow query detected",
  "message delivered to",
  "could not resolve host",
  "payload validated",
  "rotated log file",
];
const PATHS = [
  "/api/v1/users",
  "/api/v1/orders",
  "/static/app.js",
  "/login",
  "/données/export",
  "/wp-admin/admin-ajax.php",
  "/health",
  "/images/logo.png",
];
const IDENTS = [
  "value",
  "result",
  "buffer",
  "config",
  "items",
  "index",
  "count",
  "handler",
  "request",
  "response",
  "options",
  "entry",
  "cursor",
  "offset",
  "session",
  "writer",
];
const CALLS = ["parse", "encode", "resolve", "fetch", "flush", "update", "compute", "validate"];
const KEYWORDS = ["const", "let", "return", "if", "for", "await", "throw"];
const WORDS = [
  "the",
  "backup",
  "server",
  "files",
  "were",
  "copied",
  "and",
  "checked",
  "before",
  "night",
  "données",
  "sauvegarde",
  "naïve",
  "café",
  "Größe",
  "日本語",
  "ファイル",
  "résumé",
  "of",
  "a",
  "to",
  "in",
  "is",
  "with",
  "report",
  "customer",
  "invoice",
  "quarter",
];

/** Room past the end of a read for the line that crosses it (lines are far shorter). */
const SLACK = 4096;

const hex = (rng: Rng, digits: number) => rng.next().toString(16).padStart(8, "0").slice(0, digits);

/** An endless stream of text lines in one style, read in byte counts. */
export class TextSource {
  private readonly rng: Rng;
  private readonly style: TextStyle;
  private time: number;
  private depth = 0;
  private day = -1;
  private dayPrefix = "";
  private pending: Buffer = Buffer.alloc(0);

  /** A stream seeded from the parts. */
  constructor(style: TextStyle, ...parts: (string | number)[]) {
    this.rng = new Rng("text", ...parts);
    this.style = style;
    this.time = Date.UTC(2024, 0, 1) + this.rng.int(300 * 86_400_000);
  }

  /** The next `n` bytes (lines are cut where `n` ends; the rest is kept for the next read). */
  read(n: number): Buffer {
    // Lines are encoded straight into one buffer: joining strings first costs twice as much.
    const out = Buffer.allocUnsafe(n + SLACK);
    let filled = this.pending.copy(out, 0);
    while (filled < n) filled += out.write(this.line(), filled);
    this.pending = Buffer.from(out.subarray(n, filled));
    return out.subarray(0, n);
  }

  private line(): string {
    switch (this.style) {
      case "log":
        return this.logLine();
      case "source":
        return this.sourceLine();
      case "prose":
        return this.proseLine();
    }
  }

  private logLine(): string {
    const r = this.rng;
    this.time += r.int(2000);
    const path = r.pick(PATHS);
    return `${this.timestamp()} ${r.pick(LEVELS)} [${r.pick(COMPONENTS)}-${r.int(16)}] ${r.pick(MESSAGES)} id=${hex(r, 8)} path=${path}/${r.int(5000)} status=${r.chance(0.9) ? 200 : r.pick([301, 404, 500, 503])} took=${r.int(900)}ms\n`;
  }

  /** ISO 8601 of `time`; Date#toISOString on every line would halve the speed. */
  private timestamp(): string {
    const day = Math.floor(this.time / 86_400_000);
    if (day !== this.day) {
      this.day = day;
      this.dayPrefix = new Date(day * 86_400_000).toISOString().slice(0, 11);
    }
    const ms = this.time - day * 86_400_000;
    const two = (v: number) => (v < 10 ? `0${String(v)}` : String(v));
    const milli = ms % 1000;
    const sec = Math.floor(ms / 1000);
    return `${this.dayPrefix}${two(Math.floor(sec / 3600))}:${two(Math.floor(sec / 60) % 60)}:${two(sec % 60)}.${String(milli).padStart(3, "0")}Z`;
  }

  private sourceLine(): string {
    const r = this.rng;
    const roll = r.int(10);
    if (roll === 0 && this.depth > 0) {
      this.depth--;
      return `${"  ".repeat(this.depth)}}\n`;
    }
    const indent = "  ".repeat(this.depth);
    if (roll === 1 && this.depth < 6) {
      this.depth++;
      return `${indent}${r.pick(["if", "for", "while"])} (${r.pick(IDENTS)} ${r.pick(["<", "!==", ">="])} ${r.int(100)}) {\n`;
    }
    if (roll === 2) return `${indent}// ${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(WORDS)}\n`;
    if (roll === 3) return "\n";
    return `${indent}${r.pick(KEYWORDS)} ${r.pick(IDENTS)}${r.int(50)} = ${r.pick(CALLS)}(${r.pick(IDENTS)}, ${r.int(1000)});\n`;
  }

  private proseLine(): string {
    const r = this.rng;
    const words: string[] = [];
    const count = 6 + r.int(14);
    for (let i = 0; i < count; i++) words.push(r.pick(WORDS));
    return `${words.join(" ")}.${r.chance(0.2) ? "\n\n" : "\n"}`;
  }
}
