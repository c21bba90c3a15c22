/**
 * Directory-listing parsers: MLSD facts (RFC 3659), Unix `ls -l` style LIST and DOS/IIS style
 * LIST. Pure functions; every entry keeps its raw line in `raw` because LIST dates are
 * unreliable (no year or time zone). A line that cannot be parsed is an error, never a
 * silently missing file.
 */
import { StorageError } from "../errors.ts";
import type { Entry, EntryType } from "../storage.ts";

export interface ListParseOptions {
  /** The `listDateFormat` setting: tokens YYYY YY MM MMM DD D HH H hh h mm ss A, `|` between alternatives. */
  dateFormat?: string | undefined;
  /** "Now", to give a year to `Jan 31 12:34` style dates (at most a day or two in the future). */
  now: Date;
}

/** Parses an MLSx time value `YYYYMMDDhhmmss[.sss]` (UTC); undefined when malformed. */
export function parseMlsxTime(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(value.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, ms] = match.map(Number);
  const date = new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s, Number.isNaN(ms) ? 0 : ms));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Parses the facts of one MLSD/MLST line; `undefined` for `cdir`/`pdir`/`.`/`..` entries. */
export function parseMlsdLine(line: string): Entry | undefined {
  const text = line.replace(/^ /, "").replace(/\r$/, "");
  const space = text.indexOf(" ");
  const factText = space < 0 ? "" : text.slice(0, space);
  const name = space < 0 ? text : text.slice(space + 1);
  if (!/=/.test(factText) && space >= 0) {
    throw unparsable(line, "MLSD");
  }
  const facts = new Map<string, string>();
  for (const fact of factText.split(";")) {
    const eq = fact.indexOf("=");
    if (eq > 0) facts.set(fact.slice(0, eq).toLowerCase(), fact.slice(eq + 1));
  }
  const typeFact = (facts.get("type") ?? "").toLowerCase();
  if (typeFact === "cdir" || typeFact === "pdir" || name === "." || name === "..") return undefined;
  let type: EntryType = "other";
  if (typeFact === "file") type = "file";
  else if (typeFact === "dir") type = "directory";
  else if (typeFact.startsWith("os.unix=slink") || typeFact === "os.unix=symlink") type = "symlink";
  const size = type === "directory" ? 0 : Number(facts.get("size") ?? "0");
  const mtime = parseMlsxTime(facts.get("modify") ?? "");
  return {
    name,
    type,
    size: Number.isFinite(size) ? size : 0,
    ...(mtime === undefined ? {} : { mtime }),
    raw: line,
  };
}

const MONTHS: Record<string, number> = {};
for (const [index, names] of [
  "jan janv ene gen",
  "feb fév fev févr",
  "mar mär mrz mars",
  "apr avr abr",
  "may mai mag",
  "jun juin",
  "jul juil lug",
  "aug aoû aou ago",
  "sep sept set",
  "oct okt ott",
  "nov",
  "dec dez déc dic",
].entries()) {
  for (const name of names.split(" ")) MONTHS[name] = index;
}

/** One compiled date format: a regex source with named groups y, yy, mo, mon, d, h, h12, mi, s, ap. */
interface DateFormat {
  source: string;
}

const TOKENS: [string, string][] = [
  ["YYYY", "(?<y>\\d{4})"],
  ["YY", "(?<yy>\\d{2})"],
  ["MMM", "(?<mon>\\p{L}{3,4})\\.?"],
  ["MM", "(?<mo>\\d{1,2})"],
  ["DD", "(?<d>\\d{1,2})"],
  ["D", "(?<d>\\d{1,2})"],
  ["HH", "(?<h>\\d{1,2})"],
  ["H", "(?<h>\\d{1,2})"],
  ["hh", "(?<h12>\\d{1,2})"],
  ["h", "(?<h12>\\d{1,2})"],
  ["mm", "(?<mi>\\d{2})"],
  ["ss", "(?<s>\\d{2})"],
  ["A", "(?<ap>[AaPp][Mm])"],
];

function compileAlternative(format: string): string {
  let source = "";
  let rest = format.trim();
  while (rest.length > 0) {
    const token = TOKENS.find(([name]) => rest.startsWith(name));
    if (token) {
      source += token[1];
      rest = rest.slice(token[0].length);
    } else if (/^\s/.test(rest)) {
      source += "\\s+";
      rest = rest.trimStart();
    } else {
      source += (rest[0] ?? "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      rest = rest.slice(1);
    }
  }
  return source;
}

/** Compiles a `listDateFormat` (alternatives separated by `|`) into one regex source. */
export function compileDateFormat(format: string): DateFormat {
  // Group names may repeat only across alternatives, which JS allows.
  return { source: `(?:${format.split("|").map(compileAlternative).join("|")})` };
}

const UNIX_DATES = compileDateFormat(
  "MMM D HH:mm|MMM D YYYY|YYYY-MM-DD HH:mm|D MMM HH:mm|D MMM YYYY",
);
const ISO_SECONDS = "(?::\\d{2}(?:\\.\\d+)?)?(?:\\s+[+-]\\d{4})?";
const DOS_DATES = compileDateFormat(
  "MM-DD-YY hh:mmA|MM-DD-YYYY hh:mmA|MM-DD-YY HH:mm|MM-DD-YYYY HH:mm|YYYY-MM-DD HH:mm",
);

/** The date of matched groups; undefined when there is no time of day (day precision only). */
function dateOf(groups: Record<string, string | undefined>, now: Date): Date | undefined {
  const minute = groups["mi"];
  const hourText = groups["h"] ?? groups["h12"];
  if (minute === undefined || hourText === undefined) return undefined;
  let hour = Number(hourText);
  const ap = groups["ap"]?.toLowerCase();
  if (groups["h12"] !== undefined && ap !== undefined) hour = (hour % 12) + (ap === "pm" ? 12 : 0);
  const monthName = groups["mon"]?.toLowerCase().replace(/\.$/, "");
  const month = monthName === undefined ? Number(groups["mo"]) - 1 : MONTHS[monthName];
  const day = Number(groups["d"]);
  if (month === undefined || Number.isNaN(month) || Number.isNaN(day)) return undefined;
  const seconds = Number(groups["s"] ?? "0");
  let year: number;
  if (groups["y"] !== undefined) year = Number(groups["y"]);
  else if (groups["yy"] !== undefined)
    year = 1900 + Number(groups["yy"]) + (Number(groups["yy"]) < 70 ? 100 : 0);
  else {
    // `ls` omits the year for dates within the last six months: take the latest year that
    // does not put the date more than two days (time zones) into the future.
    year = now.getUTCFullYear();
    if (Date.UTC(year, month, day, hour, Number(minute)) > now.getTime() + 2 * 86_400_000) year--;
  }
  const date = new Date(Date.UTC(year, month, day, hour, Number(minute), seconds));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function unparsable(line: string, format: string): StorageError {
  return new StorageError(
    "PROTOCOL",
    `Listing failed: cannot parse the ${format} line ${JSON.stringify(line)}. Set list=mlsd if the server supports MLSD, or listDateFormat=<format> (e.g. "DD.MM.YYYY HH:mm") for localized dates.`,
    { retriable: false },
  );
}

const TYPES: Record<string, EntryType> = { "-": "file", d: "directory", l: "symlink" };

/** Parses one Unix `ls -l` style line; undefined for `.`/`..`. */
export function parseUnixLine(line: string, options: ListParseOptions): Entry | undefined {
  const dates =
    options.dateFormat === undefined ? UNIX_DATES : compileDateFormat(options.dateFormat);
  const pattern = new RegExp(
    `^([-a-zA-Z?])[-rwxsStTlL?]{9}\\S*\\s+(?:.*?\\s+)?(\\d+(?:,\\s*\\d+)?)\\s+(${dates.source}${ISO_SECONDS})\\s(.*)$`,
    "u",
  );
  const match = pattern.exec(line.replace(/\r$/, ""));
  if (!match?.groups) throw unparsable(line, "LIST");
  const type = TYPES[match[1] ?? ""] ?? "other";
  let name = match.at(-1) ?? "";
  if (type === "symlink") {
    const arrow = name.indexOf(" -> ");
    if (arrow >= 0) name = name.slice(0, arrow);
  }
  if (name === "." || name === ".." || name === "") return undefined;
  const size = type === "directory" ? 0 : Number((match[2] ?? "0").replace(/,.*/, ""));
  const mtime = dateOf(match.groups, options.now);
  return { name, type, size, ...(mtime === undefined ? {} : { mtime }), raw: line };
}

/** Parses one DOS/IIS style line (`01-31-24  10:30AM  <DIR>  name`); undefined for `.`/`..`. */
export function parseDosLine(line: string, options: ListParseOptions): Entry | undefined {
  const dates =
    options.dateFormat === undefined ? DOS_DATES : compileDateFormat(options.dateFormat);
  const pattern = new RegExp(`^\\s*${dates.source}\\s+(<DIR>|[\\d,.]+)\\s+(.+)$`, "iu");
  const match = pattern.exec(line.replace(/\r$/, ""));
  if (!match?.groups) throw unparsable(line, "DOS-style LIST");
  const name = match.at(-1) ?? "";
  if (name === "." || name === "..") return undefined;
  const isDir = (match.at(-2) ?? "").toUpperCase() === "<DIR>";
  const mtime = dateOf(match.groups, options.now);
  return {
    name,
    type: isDir ? "directory" : "file",
    size: isDir ? 0 : Number((match.at(-2) ?? "0").replace(/[,.]/g, "")),
    ...(mtime === undefined ? {} : { mtime }),
    raw: line,
  };
}

/** True for a line that starts like a DOS/IIS listing (a numeric date first). */
function looksDos(line: string): boolean {
  return /^\s*\d{1,4}[-./]\d{1,2}[-./]\d{2,4}\s/.test(line);
}

/**
 * Parses a complete listing. `format` is the command that produced it: MLSD lines are facts,
 * LIST lines are Unix or DOS style (chosen per line). `total N` lines are skipped.
 */
export function parseListing(
  text: string,
  format: "mlsd" | "list",
  options: ListParseOptions,
): Entry[] {
  const entries: Entry[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    let entry: Entry | undefined;
    if (format === "mlsd") entry = parseMlsdLine(line);
    else if (/^total\s+\d+/i.test(line)) continue;
    else if (looksDos(line)) entry = parseDosLine(line, options);
    else entry = parseUnixLine(line, options);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}
