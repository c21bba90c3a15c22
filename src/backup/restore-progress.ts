/** Progress of a restore, reported at most about ten times a second. */

/** Files and bytes done (written, or found identical) of the totals. */
export interface RestoreProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
  current?: string;
}

/** Minimum time between two progress reports. */
const PROGRESS_INTERVAL_MS = 100;

/** Progress counters with a rate limit on reports. */
export class Meter {
  readonly #totalFiles: number;
  readonly #totalBytes: number;
  readonly #report: ((p: RestoreProgress) => void) | undefined;
  #files = 0;
  #bytes = 0;
  #current: string | undefined;
  #last = 0;

  constructor(totalFiles: number, totalBytes: number, report?: (p: RestoreProgress) => void) {
    this.#totalFiles = totalFiles;
    this.#totalBytes = totalBytes;
    this.#report = report;
  }

  /** Counts files and bytes done; reports when the last report is old enough. */
  add(files: number, bytes: number, current: string): void {
    this.#files += files;
    this.#bytes += bytes;
    this.#current = current;
    if (this.#report !== undefined && Date.now() - this.#last >= PROGRESS_INTERVAL_MS) {
      this.report();
    }
  }

  /** Reports now. */
  report(): void {
    if (this.#report === undefined) return;
    this.#last = Date.now();
    const p: RestoreProgress = {
      files: this.#files,
      bytes: this.#bytes,
      totalFiles: this.#totalFiles,
      totalBytes: this.#totalBytes,
    };
    if (this.#current !== undefined) p.current = this.#current;
    this.#report(p);
  }
}
