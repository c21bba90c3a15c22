/**
 * Calendar durations as people write them for `--keep-within` (`7d`, `2w`, `1y6m`), and the
 * wall-clock arithmetic in a time zone that retention needs: the year/month/day/hour and ISO week
 * of an instant, and "this instant minus that duration" on the calendar.
 *
 * A time zone is an IANA name (`"UTC"`, `"Europe/Berlin"`) or undefined for the process's local
 * zone, which uses the `Date` local-time methods and so follows `TZ`.
 */

/** A duration in calendar units; each part is a non-negative whole number. */
export interface CalendarDuration {
  readonly years: number;
  readonly months: number;
  readonly weeks: number;
  readonly days: number;
  readonly hours: number;
}

/** A malformed duration; the message names the value and the accepted forms. */
export class DurationSyntaxError extends Error {
  override readonly name = "DurationSyntaxError";
}

/** What the unit letters mean, in the order durations are printed. */
const UNITS = [
  ["y", "years"],
  ["m", "months"],
  ["w", "weeks"],
  ["d", "days"],
  ["h", "hours"],
] as const;

type UnitField = (typeof UNITS)[number][1];

const ACCEPTED =
  "a whole number followed by y (years), m (months), w (weeks), d (days) or h (hours), " +
  "several units combined, e.g. 7d, 2w, 36h, 1y6m, 1y2m3d4h";

/**
 * Parses `7d`, `2w`, `36h`, `1y6m`, `1y2m3d4h` (y years, m months, w weeks, d days, h hours;
 * units in any order, each at most once). `m` is months, never minutes. Throws
 * {@link DurationSyntaxError} for anything else, including a duration of zero.
 */
export function parseCalendarDuration(text: string): CalendarDuration {
  function fail(why: string): never {
    throw new DurationSyntaxError(`Invalid duration "${text}"${why}: use ${ACCEPTED}.`);
  }
  const trimmed = text.trim();
  if (!/^(?:\d+[a-z])+$/.test(trimmed)) fail("");
  const parts: Record<UnitField, number> = { years: 0, months: 0, weeks: 0, days: 0, hours: 0 };
  const seen = new Set<string>();
  for (const [, digits = "", letter = ""] of trimmed.matchAll(/(\d+)([a-z])/g)) {
    const unit = UNITS.find(([short]) => short === letter);
    if (!unit) fail(` (unknown unit "${letter}")`);
    if (seen.has(letter)) fail(` ("${letter}" appears twice)`);
    seen.add(letter);
    const value = Number(digits);
    if (value > 1_000_000) fail(` (${digits} is too large)`);
    parts[unit[1]] = value;
  }
  if (isZeroDuration(parts)) fail(" (it is zero)");
  return parts;
}

/** `{ years: 1, months: 6 }` → `1y6m`; zero → `0h`. Parses back to the same duration. */
export function formatCalendarDuration(duration: CalendarDuration): string {
  const text = UNITS.filter(([, field]) => duration[field] !== 0)
    .map(([short, field]) => `${duration[field]}${short}`)
    .join("");
  return text === "" ? "0h" : text;
}

/** True when every part of the duration is zero. */
export function isZeroDuration(duration: CalendarDuration): boolean {
  return UNITS.every(([, field]) => duration[field] === 0);
}

/** The calendar fields of an instant as a clock on the wall shows them; month is 1–12. */
export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      numberingSystem: "latn",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      // h23, not hour12: false, which prints midnight as 24 in some ICU versions.
      hourCycle: "h23",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * Throws a RangeError naming the zone when `timeZone` is not a time zone this runtime knows;
 * undefined (the local zone) is always valid.
 */
export function checkTimeZone(timeZone: string | undefined): void {
  if (timeZone === undefined) return;
  try {
    formatterFor(timeZone);
  } catch (error) {
    throw new RangeError(
      `Unknown time zone "${timeZone}": use an IANA name such as "UTC" or "Europe/Berlin".`,
      { cause: error },
    );
  }
}

/** The wall-clock fields of `time` in `timeZone` (undefined: the process's local zone). */
export function wallClock(time: Date, timeZone: string | undefined): WallClock {
  if (timeZone === undefined) {
    return {
      year: time.getFullYear(),
      month: time.getMonth() + 1,
      day: time.getDate(),
      hour: time.getHours(),
      minute: time.getMinutes(),
      second: time.getSeconds(),
      millisecond: time.getMilliseconds(),
    };
  }
  if (timeZone === "UTC") return utcWallClock(time.getTime());
  const fields: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(time)) fields[part.type] = part.value;
  const yearOfEra = Number(fields["year"]);
  return {
    year: fields["era"] === "BC" ? 1 - yearOfEra : yearOfEra,
    month: Number(fields["month"]),
    day: Number(fields["day"]),
    hour: Number(fields["hour"]),
    minute: Number(fields["minute"]),
    second: Number(fields["second"]),
    // Zone offsets are whole seconds, so the milliseconds are the same everywhere.
    millisecond: ((time.getTime() % 1000) + 1000) % 1000,
  };
}

function utcWallClock(epochMs: number): WallClock {
  const time = new Date(epochMs);
  return {
    year: time.getUTCFullYear(),
    month: time.getUTCMonth() + 1,
    day: time.getUTCDate(),
    hour: time.getUTCHours(),
    minute: time.getUTCMinutes(),
    second: time.getUTCSeconds(),
    millisecond: time.getUTCMilliseconds(),
  };
}

/** Fields to epoch milliseconds as if they were UTC; out-of-range fields carry over. */
function utcFromFields(clock: WallClock): number {
  const time = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  time.setUTCFullYear(clock.year, clock.month - 1, clock.day);
  time.setUTCHours(clock.hour, clock.minute, clock.second, clock.millisecond);
  return time.getTime();
}

/**
 * The instant a wall clock in `timeZone` shows as `clock`. A wall time skipped by a DST jump, or
 * shown twice when clocks go back, resolves to one of the instants next to it.
 */
function instantOf(clock: WallClock, timeZone: string | undefined): number {
  if (timeZone === undefined) {
    const time = new Date(0);
    time.setFullYear(clock.year, clock.month - 1, clock.day);
    time.setHours(clock.hour, clock.minute, clock.second, clock.millisecond);
    return time.getTime();
  }
  const asUtc = utcFromFields(clock);
  const offsetAt = (epochMs: number): number =>
    utcFromFields(wallClock(new Date(epochMs), timeZone)) - epochMs;
  // The offset at the first guess may differ from the one at the answer across a DST change;
  // a second round settles it.
  const first = asUtc - offsetAt(asUtc);
  return asUtc - offsetAt(first);
}

function daysInMonth(year: number, month: number): number {
  return new Date(utcFromFields({ ...ZERO_CLOCK, year, month: month + 1, day: 0 })).getUTCDate();
}

const ZERO_CLOCK: WallClock = {
  year: 1970,
  month: 1,
  day: 1,
  hour: 0,
  minute: 0,
  second: 0,
  millisecond: 0,
};

/**
 * `time` minus `duration` on the calendar of `timeZone`: years and months first, keeping the day
 * of the month or clamping it to the month's last day (31 March minus 1m is 29 February in a
 * leap year), then weeks and days as calendar days at the same wall-clock time (1d across a DST
 * change is 23 or 25 hours), then hours as elapsed hours.
 */
export function subtractCalendarDuration(
  time: Date,
  duration: CalendarDuration,
  timeZone: string | undefined,
): Date {
  const clock = wallClock(time, timeZone);
  const monthIndex = clock.year * 12 + (clock.month - 1) - (duration.years * 12 + duration.months);
  const year = Math.floor(monthIndex / 12);
  const month = monthIndex - year * 12 + 1;
  const day = Math.min(clock.day, daysInMonth(year, month));
  const shifted = utcWallClock(
    utcFromFields({ ...clock, year, month, day: day - duration.weeks * 7 - duration.days }),
  );
  return new Date(instantOf(shifted, timeZone) - duration.hours * 3_600_000);
}

/**
 * The ISO 8601 week of a calendar date: weeks start on Monday and belong to the year that holds
 * their Thursday, so 3 January 2021 is in week 53 of 2020.
 */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = utcFromFields({ ...ZERO_CLOCK, year, month, day });
  const weekday = (new Date(date).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  const thursday = date + (3 - weekday) * 86_400_000;
  const weekYear = new Date(thursday).getUTCFullYear();
  const januaryFirst = utcFromFields({ ...ZERO_CLOCK, year: weekYear });
  return { year: weekYear, week: Math.floor((thursday - januaryFirst) / (7 * 86_400_000)) + 1 };
}
