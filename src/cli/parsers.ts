/** Parsers for flag values commander hands over as strings; bad values are usage errors. */
import { parseSize } from "../storage/units.ts";
import { UsageError } from "./errors.ts";

/** For repeatable flags: each use appends to the list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A parser for a whole number ≥ `min`, naming `flag` in its error. */
export function wholeNumber(flag: string, min = 0): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new UsageError(`${flag} needs a whole number ≥ ${min}; got "${value}".`);
    }
    return n;
  };
}

/** A parser for a size such as `100M` or `1GiB`, naming `flag` in its error. */
export function size(flag: string): (value: string) => number {
  return (value) => {
    const bytes = parseSize(value);
    if (bytes === undefined) {
      throw new UsageError(
        `${flag} needs a size such as 500k, 100M, 1GiB or 2GB (k/M/G are binary, KB/MB/GB decimal); got "${value}".`,
      );
    }
    return bytes;
  };
}

/** A parser for a percentage such as `10%` or `2.5`, naming `flag` in its error. */
export function percent(flag: string): (value: string) => number {
  return (value) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value);
    const n = Number(match?.[1]);
    if (match === null || !(n >= 0 && n <= 100)) {
      throw new UsageError(`${flag} needs a percentage from 0 to 100, e.g. 10%; got "${value}".`);
    }
    return n;
  };
}

/** Splits `latest:/srv/www` into the snapshot reference and the path (undefined without one). */
export function snapshotAndPath(text: string): { ref: string; path: string | undefined } {
  const cut = text.indexOf(":");
  if (cut < 0) return { ref: text, path: undefined };
  const path = text.slice(cut + 1);
  return { ref: text.slice(0, cut), path: path === "" ? undefined : path };
}
