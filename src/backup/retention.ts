/**
 * The retention policy behind `ferry forget`: which snapshots to keep and which to remove. Pure:
 * no I/O and no wall clock; the caller passes the snapshots, the policy, and `now` if it wants
 * one.
 *
 * Semantics follow restic's `forget`:
 * - Snapshots are grouped (by default by host and paths) and each group is decided on its own,
 *   newest first.
 * - `keepLast` N keeps the N newest. `keepHourly`/`Daily`/`Weekly`/`Monthly`/`Yearly` N walk the
 *   group from newest to oldest and keep the newest snapshot of each hour, day, ISO week, month
 *   or year until N such buckets are kept. -1 means unlimited; 0 or absent means the rule is off.
 * - Like restic since 0.17, when a bucket rule still has buckets left at the oldest snapshot of
 *   the group, that oldest snapshot is kept too (reason `oldest daily snapshot` when its bucket was
 *   already kept), so a young repository keeps its longest history.
 * - `keepWithin` D keeps every snapshot no older than D before the group's newest snapshot, not
 *   before now, so a machine that stopped backing up keeps its last snapshots instead of losing
 *   them all as time passes. When `now` is given, snapshots dated after it (a wrong clock) are
 *   not taken as the newest, as restic does with its own clock; without `now` none are skipped.
 * - `keepTags` keeps every snapshot carrying any of the tags.
 * - A snapshot is kept when any rule keeps it; its reasons say which.
 *
 * Deliberate differences from restic:
 * - A policy that keeps nothing is refused ({@link validatePolicy}); restic keeps everything.
 * - The `keepWithin` boundary is inclusive (time ≥ newest − D); restic's is exclusive.
 * - Subtracting months clamps to the end of the month (31 March − 1m = 28/29 February), where
 *   restic overflows into the next month (3 March) and so keeps less. Durations also accept `w`.
 * - Each `keepTags` entry is one tag; restic reads `a,b` as "both tags".
 * - Buckets are computed in one time zone for all snapshots (an option, default the process's
 *   local zone); restic uses the UTC offset each snapshot was recorded with.
 * - Snapshots with equal times are ordered by id, so the result does not depend on input order.
 * - There are no `keepWithinHourly`-style rules.
 */

import {
  checkTimeZone,
  formatCalendarDuration,
  isoWeek,
  isZeroDuration,
  subtractCalendarDuration,
  wallClock,
  type CalendarDuration,
  type WallClock,
} from "./duration.ts";

/** What retention needs to know about a snapshot. */
export interface Snapshot {
  readonly id: string;
  readonly time: Date;
  readonly host: string;
  readonly paths: readonly string[];
  readonly tags: readonly string[];
}

/**
 * What to keep. Counts are whole numbers, -1 for unlimited, 0 or absent for off; at least one
 * rule must keep something.
 */
export interface RetentionPolicy {
  readonly keepLast?: number | undefined;
  readonly keepHourly?: number | undefined;
  readonly keepDaily?: number | undefined;
  readonly keepWeekly?: number | undefined;
  readonly keepMonthly?: number | undefined;
  readonly keepYearly?: number | undefined;
  /** Relative to the newest snapshot of the group; see the module comment. */
  readonly keepWithin?: CalendarDuration | undefined;
  readonly keepTags?: readonly string[] | undefined;
}

/** A snapshot field that groups can be formed by, as in `--group-by host,paths`. */
export type GroupField = "host" | "paths" | "tags";

/** The grouping when none is given: host and paths, as restic. */
export const DEFAULT_GROUP_BY: readonly GroupField[] = ["host", "paths"];

const GROUP_FIELDS: readonly GroupField[] = ["host", "paths", "tags"];

/** How to apply a policy. */
export interface RetentionOptions {
  /** Fields whose equal values form a group; default {@link DEFAULT_GROUP_BY}; [] is one group. */
  readonly groupBy?: readonly GroupField[] | undefined;
  /** The present; snapshots dated after it are not taken as a group's newest for `keepWithin`. */
  readonly now?: Date | undefined;
  /** IANA zone for hour/day/week/month/year buckets and calendar durations; default local. */
  readonly timeZone?: string | undefined;
}

/** The values a group shares: only the fields it was grouped by; paths and tags sorted. */
export interface SnapshotGroup {
  host?: string;
  paths?: string[];
  tags?: string[];
}

/** A kept snapshot and why, e.g. `["last snapshot", "daily snapshot", "within 7d"]`. */
export interface KeptSnapshot<S extends Snapshot = Snapshot> {
  snapshot: S;
  reasons: string[];
}

/** The decision for one group; both lists newest first. */
export interface GroupDecision<S extends Snapshot = Snapshot> {
  group: SnapshotGroup;
  keep: KeptSnapshot<S>[];
  remove: S[];
}

/** Invalid retention input: a policy, a grouping, a time zone or a snapshot time. */
export class RetentionError extends Error {
  override readonly name = "RetentionError";
}

type CountField =
  | "keepLast"
  | "keepHourly"
  | "keepDaily"
  | "keepWeekly"
  | "keepMonthly"
  | "keepYearly";

interface BucketRule {
  readonly field: CountField;
  readonly flag: string;
  readonly reason: string;
  /** The bucket a snapshot falls into; undefined for keepLast, where every snapshot is its own. */
  readonly bucket: ((clock: WallClock) => string) | undefined;
}

const RULES: readonly BucketRule[] = [
  { field: "keepLast", flag: "--keep-last", reason: "last", bucket: undefined },
  {
    field: "keepHourly",
    flag: "--keep-hourly",
    reason: "hourly",
    bucket: (c) => `${c.year}-${c.month}-${c.day}T${c.hour}`,
  },
  {
    field: "keepDaily",
    flag: "--keep-daily",
    reason: "daily",
    bucket: (c) => `${c.year}-${c.month}-${c.day}`,
  },
  {
    field: "keepWeekly",
    flag: "--keep-weekly",
    reason: "weekly",
    bucket: (c) => {
      const { year, week } = isoWeek(c.year, c.month, c.day);
      return `${year}-W${week}`;
    },
  },
  {
    field: "keepMonthly",
    flag: "--keep-monthly",
    reason: "monthly",
    bucket: (c) => `${c.year}-${c.month}`,
  },
  { field: "keepYearly", flag: "--keep-yearly", reason: "yearly", bucket: (c) => String(c.year) },
];

/**
 * Throws {@link RetentionError} unless the policy is well formed and keeps something: counts are
 * whole numbers ≥ -1, `keepWithin` parts are whole numbers ≥ 0, tags are non-empty. A policy
 * that keeps nothing is refused so that `forget` never removes every snapshot by accident.
 */
export function validatePolicy(policy: RetentionPolicy): void {
  let keepsSomething = false;
  for (const { field, flag } of RULES) {
    const count = policy[field];
    if (count === undefined) continue;
    if (!Number.isSafeInteger(count) || count < -1) {
      throw new RetentionError(
        `${flag} must be a whole number of snapshots, or -1 for unlimited; got ${String(count)}.`,
      );
    }
    if (count !== 0) keepsSomething = true;
  }
  const within = policy.keepWithin;
  if (within !== undefined) {
    for (const unit of ["years", "months", "weeks", "days", "hours"] as const) {
      const value = within[unit];
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RetentionError(
          `--keep-within: ${unit} must be a whole number ≥ 0; got ${String(value)}.`,
        );
      }
    }
    if (!isZeroDuration(within)) keepsSomething = true;
  }
  for (const tag of policy.keepTags ?? []) {
    if (tag === "") throw new RetentionError("--keep-tag needs a tag name; got an empty one.");
    keepsSomething = true;
  }
  if (!keepsSomething) {
    throw new RetentionError(
      "ferry forget needs at least one --keep-* option; refusing to remove every snapshot.",
    );
  }
}

/**
 * Parses a `--group-by` value: `host`, `paths`, `tags` separated by commas, e.g. `host,paths`;
 * the empty string puts all snapshots in one group.
 */
export function parseGroupBy(text: string): GroupField[] {
  const fields: GroupField[] = [];
  for (const item of text.split(",")) {
    const name = item.trim();
    if (name === "") continue;
    const field = GROUP_FIELDS.find((known) => known === name);
    if (!field) {
      throw new RetentionError(
        `Unknown --group-by field "${name}": use host, paths and tags separated by commas, ` +
          `e.g. host,paths, or "" for a single group.`,
      );
    }
    if (!fields.includes(field)) fields.push(field);
  }
  return fields;
}

/**
 * Applies `policy` to `snapshots` (validating it first, see {@link validatePolicy}) and returns
 * one decision per group, ordered by host, then paths, then tags. Every snapshot appears in exactly one `keep` or
 * `remove` list. Throws {@link RetentionError} for an invalid policy, grouping, time zone, `now`
 * or snapshot time.
 */
export function applyPolicy<S extends Snapshot>(
  snapshots: readonly S[],
  policy: RetentionPolicy,
  options: RetentionOptions = {},
): GroupDecision<S>[] {
  validatePolicy(policy);
  const groupBy = options.groupBy ?? DEFAULT_GROUP_BY;
  for (const field of groupBy) {
    if (!GROUP_FIELDS.includes(field)) {
      throw new RetentionError(`Unknown group field "${field}": use host, paths or tags.`);
    }
  }
  try {
    checkTimeZone(options.timeZone);
  } catch (error) {
    throw new RetentionError((error as Error).message, { cause: error });
  }
  if (options.now !== undefined && Number.isNaN(options.now.getTime())) {
    throw new RetentionError("now is an invalid date.");
  }
  for (const snapshot of snapshots) {
    if (Number.isNaN(snapshot.time.getTime())) {
      throw new RetentionError(`Snapshot ${snapshot.id} has an invalid time.`);
    }
  }

  const groups = new Map<string, { group: SnapshotGroup; members: S[] }>();
  for (const snapshot of snapshots) {
    const group = groupOf(snapshot, groupBy);
    const key = JSON.stringify([group.host, group.paths, group.tags]);
    const entry = groups.get(key);
    if (entry) entry.members.push(snapshot);
    else groups.set(key, { group, members: [snapshot] });
  }
  return [...groups.values()]
    .sort((a, b) => compareGroups(a.group, b.group))
    .map(({ group, members }) => ({ group, ...decideGroup(members, policy, options) }));
}

/** Host, then paths, then tags, each list element by element with a prefix first. */
function compareGroups(a: SnapshotGroup, b: SnapshotGroup): number {
  return (
    compareStrings(a.host ?? "", b.host ?? "") ||
    compareLists(a.paths ?? [], b.paths ?? []) ||
    compareLists(a.tags ?? [], b.tags ?? [])
  );
}

function compareLists(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareStrings(a[i] ?? "", b[i] ?? "");
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

function groupOf(snapshot: Snapshot, groupBy: readonly GroupField[]): SnapshotGroup {
  const group: SnapshotGroup = {};
  if (groupBy.includes("host")) group.host = snapshot.host;
  if (groupBy.includes("paths")) group.paths = [...snapshot.paths].sort(compareStrings);
  if (groupBy.includes("tags")) group.tags = [...new Set(snapshot.tags)].sort(compareStrings);
  return group;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decideGroup<S extends Snapshot>(
  members: readonly S[],
  policy: RetentionPolicy,
  options: RetentionOptions,
): Omit<GroupDecision<S>, "group"> {
  const sorted = [...members].sort(
    (a, b) => b.time.getTime() - a.time.getTime() || compareStrings(a.id, b.id),
  );
  const rules = RULES.flatMap((rule) => {
    const count = policy[rule.field] ?? 0;
    return count === 0 ? [] : [{ ...rule, left: count, seen: new Set<string>() }];
  });
  const needsClock = rules.some((rule) => rule.bucket !== undefined);
  const withinFrom = withinThreshold(sorted, policy.keepWithin, options);
  const withinReason =
    policy.keepWithin === undefined ? "" : `within ${formatCalendarDuration(policy.keepWithin)}`;
  const tags = [...new Set(policy.keepTags ?? [])];

  const keep: KeptSnapshot<S>[] = [];
  const remove: S[] = [];
  for (const [index, snapshot] of sorted.entries()) {
    const reasons: string[] = [];
    const clock = needsClock ? wallClock(snapshot.time, options.timeZone) : undefined;
    const oldest = index === sorted.length - 1;
    for (const rule of rules) {
      if (rule.left === 0) continue;
      const bucket = rule.bucket && clock ? rule.bucket(clock) : String(index);
      if (!rule.seen.has(bucket)) {
        rule.seen.add(bucket);
        if (rule.left > 0) rule.left--;
        reasons.push(`${rule.reason} snapshot`);
      } else if (oldest) {
        reasons.push(`oldest ${rule.reason} snapshot`);
      }
    }
    if (withinFrom !== undefined && snapshot.time.getTime() >= withinFrom) {
      reasons.push(withinReason);
    }
    for (const tag of tags) if (snapshot.tags.includes(tag)) reasons.push(`tag '${tag}'`);
    if (reasons.length > 0) keep.push({ snapshot, reasons });
    else remove.push(snapshot);
  }
  return { keep, remove };
}

/** Epoch ms from which `keepWithin` keeps snapshots, or undefined when it is off. */
function withinThreshold(
  newestFirst: readonly Snapshot[],
  within: CalendarDuration | undefined,
  options: RetentionOptions,
): number | undefined {
  if (within === undefined || isZeroDuration(within)) return undefined;
  const now = options.now;
  const reference =
    now === undefined
      ? newestFirst[0]?.time
      : (newestFirst.find((snapshot) => snapshot.time.getTime() <= now.getTime())?.time ?? now);
  if (reference === undefined) return undefined;
  return subtractCalendarDuration(reference, within, options.timeZone).getTime();
}
