/** How the CLI prints sizes, durations, times, modes and tables. */
import { formatSize } from "../storage/units.ts";

export { formatSize };

/** `1536` bytes in 2 s → `768 B/s`. */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return "–";
  return `${formatSize(Math.round((bytes * 1000) / ms))}/s`;
}

/** `850` → `0.9s`, `75_000` → `1m15s`, `3_723_000` → `1h02m03s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number): string => String(n).padStart(2, "0");
  return h > 0 ? `${h}h${pad(m)}m${pad(s)}s` : `${m}m${pad(s)}s`;
}

/** A time in the local zone as `2024-05-01 13:04:05`. */
export function formatTime(time: string | Date): string {
  const d = typeof time === "string" ? new Date(time) : time;
  if (Number.isNaN(d.getTime())) return String(time);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Integer nanoseconds since the epoch (as trees store them) → a Date. */
export function nsToDate(ns: string): Date {
  return new Date(Number(BigInt(ns) / 1_000_000n));
}

/** Integer nanoseconds since the epoch → ISO 8601 with the nanoseconds kept. */
export function nsToIso(ns: string): string {
  const big = BigInt(ns);
  const seconds = big / 1_000_000_000n - (big < 0n && big % 1_000_000_000n !== 0n ? 1n : 0n);
  const fraction = big - seconds * 1_000_000_000n;
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${fraction.toString().padStart(9, "0")}Z`;
}

const TYPE_LETTER: Record<string, string> = {
  file: "-",
  dir: "d",
  symlink: "l",
  dev: "b",
  chardev: "c",
  fifo: "p",
  socket: "s",
};

/** `dir`, 0o755 → `drwxr-xr-x`, with setuid, setgid and sticky bits as `ls` shows them. */
export function formatMode(type: string, mode: number): string {
  const bits = "rwxrwxrwx".split("").map((letter, i) => (mode & (0o400 >> i) ? letter : "-"));
  const special = (at: number, flag: number, letter: string): void => {
    if (mode & flag) bits[at] = bits[at] === "x" ? letter : letter.toUpperCase();
  };
  special(2, 0o4000, "s");
  special(5, 0o2000, "s");
  special(8, 0o1000, "t");
  return `${TYPE_LETTER[type] ?? "?"}${bits.join("")}`;
}

/** `12345` → `12,345`. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** `1, "file"` → `1 file`; `3, "file"` → `3 files`; with thousands separators. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}

/** A column of a table: its heading and whether it is right-aligned (numbers, sizes). */
export interface Column {
  title: string;
  right?: boolean;
}

/**
 * Lays out rows under headings, two spaces between columns. A cell may hold several lines
 * (`\n`); the row then takes several lines and other cells stay on its first.
 */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) =>
    Math.max(
      column.title.length,
      ...rows.flatMap((row) => (row[i] ?? "").split("\n").map((line) => line.length)),
    ),
  );
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        return columns[i]?.right === true ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const heading = render(columns.map((c) => c.title));
  const lines = [
    heading,
    "-".repeat(widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1)),
  ];
  for (const row of rows) {
    const split = row.map((cell) => cell.split("\n"));
    const height = Math.max(1, ...split.map((cell) => cell.length));
    for (let line = 0; line < height; line++) {
      lines.push(render(split.map((cell) => cell[line] ?? "")));
    }
  }
  return `${lines.join("\n")}\n`;
}

/** `["a", "b"]` → `a, b`; an empty list → an empty string. */
export function list(items: readonly string[]): string {
  return items.length === 0 ? "" : items.join(", ");
}

/** Writes one value as JSON with a newline. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Writes one JSON line (for streams of events). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
