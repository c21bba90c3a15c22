/** Parsing and printing of sizes, rates and durations as people write them. */

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses `512`, `64k`, `10MiB`, `1.5GB` into bytes (k/M/G alone are binary; KB/MB/GB decimal).
 * Returns undefined when the text is not a size.
 */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  const factor = SIZE_UNITS[(match[2] ?? "").toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.round(Number(match[1]) * factor);
}

/** Parses a rate such as `10MiB/s`, `500k` (per second implied) into bytes per second. */
export function parseRate(text: string): number | undefined {
  return parseSize(text.replace(/\/s$/i, "").replace(/ps$/i, ""));
}

/** Parses `30`, `30s`, `2m`, `1h`, `500ms` into seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  switch ((match[2] ?? "s").toLowerCase()) {
    case "ms":
      return value / 1000;
    case "m":
      return value * 60;
    case "h":
      return value * 3600;
    default:
      return value;
  }
}

/** `1536` → `1.5 KiB`. */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${String(bytes)} B` : `${value.toFixed(1)} ${units[unit] ?? "?"}`;
}
