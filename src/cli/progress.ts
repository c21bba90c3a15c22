/**
 * The progress line on a terminal: one line on stderr, redrawn at most ten times a second, cut to
 * the terminal's width, cleared before anything else is printed and when the work is done.
 */
import { formatDuration, printJsonLine } from "./format.ts";

/** One redrawn line. Use {@link ProgressLine.forTerminal} to get one only where it belongs. */
export class ProgressLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #intervalMs: number;
  #lastDraw = 0;
  #text = "";
  #shown = false;

  constructor(stream: NodeJS.WriteStream = process.stderr, intervalMs = 100) {
    this.#stream = stream;
    this.#intervalMs = intervalMs;
  }

  /** A progress line when stderr is a terminal and the output is not JSON; else undefined. */
  static forTerminal(json: boolean | undefined): ProgressLine | undefined {
    return json !== true && process.stderr.isTTY ? new ProgressLine() : undefined;
  }

  /** Sets the text; redraws unless the last redraw was less than the interval ago. */
  update(text: string, force = false): void {
    this.#text = text;
    const now = Date.now();
    if (!force && now - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = now;
    this.#draw();
  }

  #draw(): void {
    const width = Math.max(20, (this.#stream.columns || 80) - 1);
    this.#stream.write(`\r${fit(this.#text, width)}\x1b[K`);
    this.#shown = true;
  }

  /** Prints a whole line (a warning) above the progress line, then redraws it. */
  print(line: string): void {
    this.clear();
    this.#stream.write(`${line}\n`);
    if (this.#text !== "") this.#draw();
  }

  /** Erases the line. */
  clear(): void {
    if (!this.#shown) return;
    this.#stream.write("\r\x1b[K");
    this.#shown = false;
  }
}

/** Cuts `text` to `width` characters, taking the cut out of its end part (a file path). */
export function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  const keep = width - 1;
  const head = Math.ceil(keep / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
}

/** Time left at the current rate, or undefined while it cannot be told. */
export function eta(done: number, total: number, elapsedMs: number): string | undefined {
  if (done <= 0 || total <= done || elapsedMs < 1000) return undefined;
  return formatDuration(((total - done) * elapsedMs) / done);
}

/**
 * The progress callback of a long command: a JSON line at most once a second with `--json`, else
 * the redrawn terminal line (nothing when stderr is not a terminal).
 */
export function progressReporter<P extends object>(
  json: boolean,
  line: ProgressLine | undefined,
  started: number,
  text: (progress: P, elapsedMs: number) => string,
): ((progress: P) => void) | undefined {
  if (json) {
    let last = -Infinity;
    return (p) => {
      const now = performance.now();
      if (now - last < 1000) return;
      last = now;
      printJsonLine({ type: "progress", ...p, elapsedMs: Math.round(now - started) });
    };
  }
  if (line === undefined) return undefined;
  return (p) => {
    line.update(text(p, performance.now() - started));
  };
}
