import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  formatCalendarDuration,
  isoWeek,
  parseCalendarDuration,
  subtractCalendarDuration,
  wallClock,
  DurationSyntaxError,
  type CalendarDuration,
} from "./duration.ts";
import {
  applyPolicy,
  parseGroupBy,
  validatePolicy,
  RetentionError,
  type GroupDecision,
  type GroupField,
  type RetentionOptions,
  type RetentionPolicy,
  type Snapshot,
} from "./retention.ts";

const HOUR = 3_600_000;
const UTC: RetentionOptions = { timeZone: "UTC" };

function snapshot(id: string, time: Date | string, extra: Partial<Snapshot> = {}): Snapshot {
  return {
    id,
    time: typeof time === "string" ? new Date(time) : time,
    host: "laptop",
    paths: ["/home"],
    tags: [],
    ...extra,
  };
}

/** Hourly snapshots from 2023-01-01T00:00Z to 2024-12-31T23:00Z: 17,544 of them. */
const START = Date.UTC(2023, 0, 1);
const END = Date.UTC(2024, 11, 31, 23);
const HOURLY = Array.from({ length: (END - START) / HOUR + 1 }, (_, hour) =>
  snapshot(String(hour), new Date(START + hour * HOUR)),
);

function duration(text: string): CalendarDuration {
  return parseCalendarDuration(text);
}

function keptIds(decisions: readonly GroupDecision[]): Set<string> {
  return new Set(decisions.flatMap((decision) => decision.keep.map((kept) => kept.snapshot.id)));
}

function keptTimes(decisions: readonly GroupDecision[]): string[] {
  return decisions.flatMap((decision) =>
    decision.keep.map((kept) => kept.snapshot.time.toISOString()),
  );
}

/** Hours from `from` to the newest snapshot of the series, both ends included. */
function hoursSince(from: number): number {
  return (END - from) / HOUR + 1;
}

// Generators for the property tests.

const arbDuration: fc.Arbitrary<CalendarDuration> = fc.record({
  years: fc.integer({ min: 0, max: 3 }),
  months: fc.integer({ min: 0, max: 14 }),
  weeks: fc.integer({ min: 0, max: 5 }),
  days: fc.integer({ min: 0, max: 40 }),
  hours: fc.integer({ min: 0, max: 50 }),
});

const MINUTE = 60_000;
const BASE = Date.UTC(2022, 0, 1);
/** Spread over three years, or bunched into three days so that buckets and times collide. */
const arbInstant = fc
  .oneof(fc.integer({ min: 0, max: 3 * 366 * 1440 }), fc.integer({ min: 0, max: 3 * 1440 }))
  .map((minutes) => new Date(BASE + minutes * MINUTE));

const arbZone = fc.constantFrom<string | undefined>(
  undefined,
  "UTC",
  "America/New_York",
  "Australia/Lord_Howe",
  "Asia/Kathmandu",
);

const TAGS = ["daily", "monthly", "manual"];

const arbSnapshots: fc.Arbitrary<Snapshot[]> = fc
  .array(
    fc.record({
      time: arbInstant,
      host: fc.constantFrom("a", "b"),
      paths: fc.subarray(["/etc", "/home"], { minLength: 1 }),
      tags: fc.subarray(TAGS),
    }),
    { maxLength: 60 },
  )
  .map((list) => list.map((fields, i) => ({ id: `s${String(i).padStart(2, "0")}`, ...fields })));

const arbCount = fc.option(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 8 })), {
  nil: undefined,
});

const COUNT_FIELDS = [
  "keepLast",
  "keepHourly",
  "keepDaily",
  "keepWeekly",
  "keepMonthly",
  "keepYearly",
] as const;

const arbPolicy: fc.Arbitrary<RetentionPolicy> = fc.record(
  {
    keepLast: arbCount,
    keepHourly: arbCount,
    keepDaily: arbCount,
    keepWeekly: arbCount,
    keepMonthly: arbCount,
    keepYearly: arbCount,
    keepWithin: arbDuration,
    keepTags: fc.subarray(TAGS),
  },
  { requiredKeys: [] },
);

const arbOptions: fc.Arbitrary<RetentionOptions> = fc.record(
  {
    groupBy: fc.subarray<GroupField>(["host", "paths", "tags"]),
    now: arbInstant,
    timeZone: arbZone,
  },
  { requiredKeys: [] },
);

function isValid(policy: RetentionPolicy): boolean {
  try {
    validatePolicy(policy);
    return true;
  } catch {
    return false;
  }
}

describe("applyPolicy over two years of hourly snapshots (UTC)", () => {
  assert.equal(HOURLY.length, 17_544);
  const cases: [string, RetentionPolicy, number][] = [
    ["keepLast 5", { keepLast: 5 }, 5],
    ["keepLast -1", { keepLast: -1 }, 17_544],
    ["keepLast beyond the series", { keepLast: 20_000 }, 17_544],
    ["keepHourly 48", { keepHourly: 48 }, 48],
    ["keepHourly -1", { keepHourly: -1 }, 17_544],
    ["keepDaily 7", { keepDaily: 7 }, 7],
    // 731 days, plus the oldest snapshot because the rule still had days left.
    ["keepDaily -1", { keepDaily: -1 }, 732],
    ["keepWeekly 4", { keepWeekly: 4 }, 4],
    // 2022-W52 (one day), 52 weeks of 2023, 52 of 2024, 2025-W01 (two days), plus the oldest.
    ["keepWeekly -1", { keepWeekly: -1 }, 107],
    ["keepMonthly 12", { keepMonthly: 12 }, 12],
    ["keepMonthly 24", { keepMonthly: 24 }, 24],
    ["keepMonthly 30", { keepMonthly: 30 }, 25],
    ["keepYearly 2", { keepYearly: 2 }, 2],
    ["keepYearly 3", { keepYearly: 3 }, 3],
    ["keepYearly -1", { keepYearly: -1 }, 3],
    ["keepWithin 36h", { keepWithin: duration("36h") }, 37],
    ["keepWithin 7d", { keepWithin: duration("7d") }, 7 * 24 + 1],
    ["keepWithin 2w", { keepWithin: duration("2w") }, 14 * 24 + 1],
    ["keepWithin 1m", { keepWithin: duration("1m") }, 31 * 24 + 1],
    // 31 December 2024 − 1y6m = 31 June 2023, clamped to 30 June.
    ["keepWithin 1y6m", { keepWithin: duration("1y6m") }, hoursSince(Date.UTC(2023, 5, 30, 23))],
    // −1y: 2023-12-31, −2m: 2023-10-31, −3d: 2023-10-28, −4h: 19:00.
    [
      "keepWithin 1y2m3d4h",
      { keepWithin: duration("1y2m3d4h") },
      hoursSince(Date.UTC(2023, 9, 28, 19)),
    ],
    ["keepWithin 5y keeps everything", { keepWithin: duration("5y") }, 17_544],
    // Last: 23:00, 22:00, 21:00 of 31 Dec; daily adds 25–30 Dec at 23:00; weekly adds 22 and
    // 15 Dec (29 Dec is already daily); monthly adds the last hour of Jan–Nov 2024; yearly adds
    // 2023-12-31T23:00.
    [
      "last 3, daily 7, weekly 4, monthly 12, yearly 2",
      { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 2 },
      3 + 6 + 2 + 11 + 1,
    ],
    // Within covers 29–31 Dec entirely (49 hours); daily adds 25–28 Dec.
    ["daily 7 and within 2d", { keepDaily: 7, keepWithin: duration("2d") }, 49 + 4],
    ["hourly 24 and daily 7", { keepHourly: 24, keepDaily: 7 }, 24 + 6],
  ];
  for (const [name, policy, expected] of cases) {
    it(`${name} keeps ${expected}`, () => {
      const decisions = applyPolicy(HOURLY, policy, UTC);
      assert.equal(decisions.length, 1);
      const [decision] = decisions;
      assert.ok(decision);
      assert.equal(decision.keep.length, expected);
      assert.equal(decision.keep.length + decision.remove.length, HOURLY.length);
    });
  }

  it("keeps the last hour of each of the last 12 months", () => {
    const times = keptTimes(applyPolicy(HOURLY, { keepMonthly: 12 }, UTC));
    const expected = Array.from({ length: 12 }, (_, i) =>
      new Date(Date.UTC(2024, 12 - i, 1) - HOUR).toISOString(),
    );
    assert.deepEqual(times, expected);
  });

  it("keeps the newest snapshot of each ISO week", () => {
    const times = keptTimes(applyPolicy(HOURLY, { keepWeekly: 4 }, UTC));
    assert.deepEqual(times, [
      "2024-12-31T23:00:00.000Z", // Tuesday of 2025-W01
      "2024-12-29T23:00:00.000Z", // Sunday ending 2024-W52
      "2024-12-22T23:00:00.000Z",
      "2024-12-15T23:00:00.000Z",
    ]);
  });

  it("gives every reason that applies, newest first", () => {
    const [decision] = applyPolicy(
      HOURLY,
      { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 2 },
      UTC,
    );
    assert.ok(decision);
    assert.deepEqual(decision.keep[0]?.reasons, [
      "last snapshot",
      "daily snapshot",
      "weekly snapshot",
      "monthly snapshot",
      "yearly snapshot",
    ]);
    assert.deepEqual(decision.keep[1]?.reasons, ["last snapshot"]);
    const yearly = decision.keep.at(-1);
    assert.equal(yearly?.snapshot.time.toISOString(), "2023-12-31T23:00:00.000Z");
    assert.deepEqual(yearly.reasons, ["yearly snapshot"]);
    assert.deepEqual(
      decision.remove.slice(0, 2).map((s) => s.time.toISOString()),
      ["2024-12-31T20:00:00.000Z", "2024-12-31T19:00:00.000Z"],
    );
  });

  it("keeps the oldest snapshot when a rule has buckets left, and says so", () => {
    const [decision] = applyPolicy(HOURLY, { keepYearly: 5 }, UTC);
    assert.deepEqual(
      decision?.keep.map((k) => [k.snapshot.time.toISOString(), k.reasons]),
      [
        ["2024-12-31T23:00:00.000Z", ["yearly snapshot"]],
        ["2023-12-31T23:00:00.000Z", ["yearly snapshot"]],
        ["2023-01-01T00:00:00.000Z", ["oldest yearly snapshot"]],
      ],
    );
  });

  it("names the duration in the within reason", () => {
    const [decision] = applyPolicy(HOURLY, { keepWithin: duration("7d") }, UTC);
    const oldest = decision?.keep.at(-1);
    assert.equal(oldest?.snapshot.time.toISOString(), "2024-12-24T23:00:00.000Z");
    assert.deepEqual(oldest.reasons, ["within 7d"]);
  });
});

describe("keepWithin", () => {
  const newest = Date.UTC(2024, 5, 15, 12);
  const at = (ms: number, id: string): Snapshot => snapshot(id, new Date(ms));

  it("is inclusive at the boundary, relative to the newest snapshot", () => {
    const boundary = newest - 7 * 24 * HOUR;
    const decisions = applyPolicy(
      [at(newest, "newest"), at(boundary, "edge"), at(boundary - 1, "outside")],
      { keepWithin: duration("7d") },
      { timeZone: "UTC", now: new Date(Date.UTC(2030, 0, 1)) },
    );
    assert.deepEqual([...keptIds(decisions)], ["newest", "edge"]);
    assert.deepEqual(
      decisions[0]?.remove.map((s) => s.id),
      ["outside"],
    );
  });

  it("keeps the last snapshots of a machine that stopped backing up long ago", () => {
    const old = [at(Date.UTC(2020, 0, 10), "a"), at(Date.UTC(2020, 0, 8), "b")];
    const decisions = applyPolicy(
      old,
      { keepWithin: duration("7d") },
      { timeZone: "UTC", now: new Date(Date.UTC(2024, 0, 1)) },
    );
    assert.deepEqual([...keptIds(decisions)], ["a", "b"]);
  });

  it("does not let a snapshot dated in the future (after now) move the window", () => {
    const snapshots = [
      at(Date.UTC(2030, 0, 1), "wrong-clock"),
      ...Array.from({ length: 10 }, (_, i) => at(Date.UTC(2024, 0, 10 - i), `jan${10 - i}`)),
    ];
    const policy = { keepWithin: duration("3d") };
    const withNow = applyPolicy(snapshots, policy, {
      timeZone: "UTC",
      now: new Date(Date.UTC(2024, 0, 10, 6)),
    });
    assert.deepEqual([...keptIds(withNow)], ["wrong-clock", "jan10", "jan9", "jan8", "jan7"]);
    const withoutNow = applyPolicy(snapshots, policy, UTC);
    assert.deepEqual([...keptIds(withoutNow)], ["wrong-clock"]);
  });

  it("keeps everything when every snapshot is after now", () => {
    const snapshots = [at(Date.UTC(2030, 0, 1), "x"), at(Date.UTC(2029, 0, 1), "y")];
    const decisions = applyPolicy(
      snapshots,
      { keepWithin: duration("1d") },
      { timeZone: "UTC", now: new Date(Date.UTC(2024, 0, 1)) },
    );
    assert.deepEqual([...keptIds(decisions)], ["x", "y"]);
  });

  it("subtracts months on the calendar, clamping to the end of the month", () => {
    const newestMarch = Date.UTC(2024, 2, 31, 12);
    const decisions = applyPolicy(
      [
        at(newestMarch, "newest"),
        at(Date.UTC(2024, 1, 29, 12), "feb29-noon"),
        at(Date.UTC(2024, 1, 29, 11, 59), "feb29-earlier"),
      ],
      { keepWithin: duration("1m") },
      UTC,
    );
    assert.deepEqual([...keptIds(decisions)], ["newest", "feb29-noon"]);
  });

  it("counts days on the local calendar across a DST change", () => {
    // 10 March 2024 12:00 EDT minus 1d is 9 March 12:00 EST: 23 hours earlier.
    const newestDst = Date.UTC(2024, 2, 10, 16);
    const snapshots = [at(newestDst, "newest"), at(newestDst - 23.5 * HOUR, "23.5h-before")];
    const policy = { keepWithin: duration("1d") };
    const newYork = applyPolicy(snapshots, policy, { timeZone: "America/New_York" });
    assert.deepEqual([...keptIds(newYork)], ["newest"]);
    assert.deepEqual([...keptIds(applyPolicy(snapshots, policy, UTC))], ["newest", "23.5h-before"]);
  });
});

describe("keepTags", () => {
  const snapshots = [
    snapshot("1", "2024-05-04T00:00:00Z"),
    snapshot("2", "2024-05-03T00:00:00Z", { tags: ["monthly"] }),
    snapshot("3", "2024-05-02T00:00:00Z", { tags: ["manual", "monthly"] }),
    snapshot("4", "2024-05-01T00:00:00Z", { tags: ["manual"] }),
    snapshot("5", "2024-04-30T00:00:00Z", { tags: ["other"] }),
  ];

  it("keeps any snapshot carrying any of the tags", () => {
    const [decision] = applyPolicy(snapshots, { keepTags: ["monthly", "manual"] }, UTC);
    assert.deepEqual(
      decision?.keep.map((k) => [k.snapshot.id, k.reasons]),
      [
        ["2", ["tag 'monthly'"]],
        ["3", ["tag 'monthly'", "tag 'manual'"]],
        ["4", ["tag 'manual'"]],
      ],
    );
    assert.deepEqual(
      decision.remove.map((s) => s.id),
      ["1", "5"],
    );
  });

  it("adds to the other rules without counting against them", () => {
    const [decision] = applyPolicy(snapshots, { keepLast: 1, keepTags: ["monthly"] }, UTC);
    assert.deepEqual(
      decision?.keep.map((k) => [k.snapshot.id, k.reasons]),
      [
        ["1", ["last snapshot"]],
        ["2", ["tag 'monthly'"]],
        ["3", ["tag 'monthly'"]],
      ],
    );
  });
});

describe("grouping", () => {
  const snapshots = [
    snapshot("a1", "2024-01-02T00:00:00Z", { host: "a", paths: ["/etc", "/home"] }),
    snapshot("a2", "2024-01-01T00:00:00Z", { host: "a", paths: ["/home", "/etc"] }),
    snapshot("a3", "2024-01-03T00:00:00Z", { host: "a", paths: ["/srv"], tags: ["x"] }),
    snapshot("b1", "2024-01-01T00:00:00Z", { host: "b", paths: ["/etc", "/home"], tags: ["x"] }),
    snapshot("b2", "2024-01-04T00:00:00Z", { host: "b", paths: ["/etc", "/home"] }),
  ];

  it("groups by host and paths by default, ignoring path order", () => {
    const decisions = applyPolicy(snapshots, { keepLast: 1 }, UTC);
    assert.deepEqual(
      decisions.map((d) => [d.group, d.keep.map((k) => k.snapshot.id), d.remove.map((s) => s.id)]),
      [
        [{ host: "a", paths: ["/etc", "/home"] }, ["a1"], ["a2"]],
        [{ host: "a", paths: ["/srv"] }, ["a3"], []],
        [{ host: "b", paths: ["/etc", "/home"] }, ["b2"], ["b1"]],
      ],
    );
  });

  it("groups by host alone", () => {
    const decisions = applyPolicy(snapshots, { keepLast: 1 }, { ...UTC, groupBy: ["host"] });
    assert.deepEqual(
      decisions.map((d) => [d.group, d.keep.map((k) => k.snapshot.id)]),
      [
        [{ host: "a" }, ["a3"]],
        [{ host: "b" }, ["b2"]],
      ],
    );
  });

  it("groups by paths, by tags, or not at all", () => {
    const byPaths = applyPolicy(snapshots, { keepLast: 1 }, { ...UTC, groupBy: ["paths"] });
    assert.deepEqual(
      byPaths.map((d) => [d.group, d.keep.map((k) => k.snapshot.id)]),
      [
        [{ paths: ["/etc", "/home"] }, ["b2"]],
        [{ paths: ["/srv"] }, ["a3"]],
      ],
    );
    const byTags = applyPolicy(snapshots, { keepLast: 1 }, { ...UTC, groupBy: ["tags"] });
    assert.deepEqual(
      byTags.map((d) => [d.group, d.keep.map((k) => k.snapshot.id)]),
      [
        [{ tags: [] }, ["b2"]],
        [{ tags: ["x"] }, ["a3"]],
      ],
    );
    const single = applyPolicy(snapshots, { keepLast: 1 }, { ...UTC, groupBy: [] });
    assert.deepEqual(
      single.map((d) => [d.group, d.keep.map((k) => k.snapshot.id)]),
      [[{}, ["b2"]]],
    );
  });

  it("parses --group-by values", () => {
    assert.deepEqual(parseGroupBy("host,paths"), ["host", "paths"]);
    assert.deepEqual(parseGroupBy(" tags , host ,host"), ["tags", "host"]);
    assert.deepEqual(parseGroupBy(""), []);
    assert.throws(() => parseGroupBy("host,path"), {
      name: "RetentionError",
      message: /Unknown --group-by field "path": use host, paths and tags/,
    });
  });
});

describe("time zones", () => {
  // In New York, 04:30Z is 23:30 on 9 March and 05:30Z is 00:30 on 10 March.
  const snapshots = [
    snapshot("4", "2024-03-10T05:30:00Z"),
    snapshot("3", "2024-03-10T04:30:00Z"),
    snapshot("2", "2024-03-10T01:00:00Z"),
    snapshot("1", "2024-03-09T12:00:00Z"),
  ];

  it("computes buckets in the given zone", () => {
    const policy = { keepDaily: 2 };
    const newYork = applyPolicy(snapshots, policy, { timeZone: "America/New_York" });
    assert.deepEqual([...keptIds(newYork)], ["4", "3"]);
    assert.deepEqual([...keptIds(applyPolicy(snapshots, policy, UTC))], ["4", "1"]);
  });

  it("uses the process's local zone by default", () => {
    const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (const policy of [{ keepDaily: 3 }, { keepHourly: 2, keepWeekly: 1 }]) {
      assert.deepEqual(
        applyPolicy(HOURLY.slice(-200), policy),
        applyPolicy(HOURLY.slice(-200), policy, { timeZone: local }),
      );
    }
  });

  it("merges the repeated hour when clocks go back", () => {
    // 1 November 2026, New York: 01:00–01:59 happens twice (05:xxZ EDT, 06:xxZ EST).
    const fallBack = [
      snapshot("est", "2026-11-01T06:30:00Z"),
      snapshot("edt", "2026-11-01T05:30:00Z"),
      snapshot("midnight", "2026-11-01T04:30:00Z"),
    ];
    const decisions = applyPolicy(fallBack, { keepHourly: 2 }, { timeZone: "America/New_York" });
    assert.deepEqual([...keptIds(decisions)], ["est", "midnight"]);
  });

  it("refuses an unknown zone", () => {
    assert.throws(() => applyPolicy(snapshots, { keepLast: 1 }, { timeZone: "Mars/Olympus" }), {
      name: "RetentionError",
      message: /Unknown time zone "Mars\/Olympus": use an IANA name/,
    });
  });

  it("puts ISO weeks at the turn of the year in the right year", () => {
    const days = Array.from({ length: 14 }, (_, i) =>
      snapshot(`d${i}`, new Date(Date.UTC(2020, 11, 28 + i, 12))),
    );
    const [decision] = applyPolicy(days, { keepWeekly: -1 }, UTC);
    assert.deepEqual(
      decision?.keep.map((k) => [k.snapshot.time.toISOString().slice(0, 10), k.reasons]),
      [
        ["2021-01-10", ["weekly snapshot"]], // 2021-W01
        ["2021-01-03", ["weekly snapshot"]], // 2020-W53
        ["2020-12-28", ["oldest weekly snapshot"]],
      ],
    );
    assert.deepEqual(isoWeek(2021, 1, 3), { year: 2020, week: 53 });
    assert.deepEqual(isoWeek(2021, 1, 4), { year: 2021, week: 1 });
    assert.deepEqual(isoWeek(2024, 12, 30), { year: 2025, week: 1 });
    assert.deepEqual(isoWeek(2026, 12, 31), { year: 2026, week: 53 });
    assert.deepEqual(isoWeek(2023, 1, 1), { year: 2022, week: 52 });
  });

  it("reads wall clocks in a zone", () => {
    assert.deepEqual(wallClock(new Date("2024-03-10T05:30:15.250Z"), "America/New_York"), {
      year: 2024,
      month: 3,
      day: 10,
      hour: 0,
      minute: 30,
      second: 15,
      millisecond: 250,
    });
    assert.equal(wallClock(new Date("2024-06-30T22:00:00Z"), "Asia/Kathmandu").hour, 3);
  });
});

describe("validatePolicy", () => {
  const empty =
    "ferry forget needs at least one --keep-* option; refusing to remove every snapshot.";

  it("refuses a policy that keeps nothing", () => {
    for (const policy of [
      {},
      { keepLast: 0, keepDaily: 0 },
      { keepTags: [] },
      { keepLast: undefined },
      { keepWithin: { years: 0, months: 0, weeks: 0, days: 0, hours: 0 } },
    ] satisfies RetentionPolicy[]) {
      assert.throws(
        () => {
          validatePolicy(policy);
        },
        { name: "RetentionError", message: empty },
      );
      assert.throws(() => applyPolicy(HOURLY, policy, UTC), { message: empty });
    }
    assert.throws(() => applyPolicy([], {}, UTC), { message: empty });
  });

  it("refuses counts that are not whole numbers ≥ -1", () => {
    assert.throws(
      () => {
        validatePolicy({ keepDaily: 1.5 });
      },
      {
        message: "--keep-daily must be a whole number of snapshots, or -1 for unlimited; got 1.5.",
      },
    );
    assert.throws(() => {
      validatePolicy({ keepLast: -2 });
    }, /--keep-last .* got -2/);
    assert.throws(() => {
      validatePolicy({ keepYearly: Number.NaN });
    }, /--keep-yearly .* got NaN/);
    assert.throws(() => {
      validatePolicy({ keepLast: 3, keepTags: [""] });
    }, /--keep-tag needs/);
    assert.throws(() => {
      validatePolicy({ keepWithin: { years: 0, months: 0, weeks: 0, days: -1, hours: 0 } });
    }, /--keep-within: days must be a whole number ≥ 0; got -1/);
  });

  it("accepts any single rule", () => {
    for (const policy of [
      { keepLast: 1 },
      { keepHourly: -1 },
      { keepYearly: 1 },
      { keepWithin: duration("1h") },
      { keepTags: ["x"] },
    ] satisfies RetentionPolicy[]) {
      validatePolicy(policy);
    }
  });

  it("refuses snapshots with an invalid time", () => {
    assert.throws(
      () => applyPolicy([snapshot("bad", new Date(Number.NaN))], { keepLast: 1 }, UTC),
      { name: "RetentionError", message: "Snapshot bad has an invalid time." },
    );
  });

  it("returns nothing for no snapshots", () => {
    assert.deepEqual(applyPolicy([], { keepLast: 1 }, UTC), []);
  });
});

describe("parseCalendarDuration", () => {
  const cases: [string, Partial<CalendarDuration>][] = [
    ["7d", { days: 7 }],
    ["2w", { weeks: 2 }],
    ["36h", { hours: 36 }],
    ["1y6m", { years: 1, months: 6 }],
    ["1y2m3d4h", { years: 1, months: 2, days: 3, hours: 4 }],
    ["4h1y", { years: 1, hours: 4 }],
    [" 1m ", { months: 1 }],
    ["0y3d", { days: 3 }],
  ];
  for (const [text, parts] of cases) {
    it(JSON.stringify(text), () => {
      assert.deepEqual(parseCalendarDuration(text), {
        years: 0,
        months: 0,
        weeks: 0,
        days: 0,
        hours: 0,
        ...parts,
      });
    });
  }

  it("names the bad value and the accepted forms", () => {
    for (const text of [
      "",
      "7",
      "d",
      "7x",
      "7D",
      "1.5d",
      "-1d",
      "1d1d",
      "0d",
      "7 d",
      "99999999d",
    ]) {
      assert.throws(
        () => parseCalendarDuration(text),
        (error: unknown) =>
          error instanceof DurationSyntaxError &&
          error.message.startsWith(`Invalid duration "${text}"`) &&
          error.message.includes("e.g. 7d, 2w, 36h, 1y6m, 1y2m3d4h"),
        text,
      );
    }
    assert.throws(() => parseCalendarDuration("7x"), /unknown unit "x"/);
    assert.throws(() => parseCalendarDuration("1d1d"), /"d" appears twice/);
    assert.throws(() => parseCalendarDuration("0d"), /it is zero/);
  });

  it("formats durations so they parse back", () => {
    assert.equal(formatCalendarDuration(duration("4h1y")), "1y4h");
    fc.assert(
      fc.property(
        arbDuration.filter((d) => formatCalendarDuration(d) !== "0h"),
        (d) => {
          assert.deepEqual(parseCalendarDuration(formatCalendarDuration(d)), { ...d });
        },
      ),
    );
  });
});

describe("subtractCalendarDuration", () => {
  const minus = (iso: string, text: string, zone: string | undefined = "UTC"): string =>
    subtractCalendarDuration(new Date(iso), duration(text), zone).toISOString();

  it("subtracts calendar units", () => {
    assert.equal(minus("2024-03-31T12:00:00.000Z", "1m"), "2024-02-29T12:00:00.000Z");
    assert.equal(minus("2023-03-31T12:00:00.000Z", "1m"), "2023-02-28T12:00:00.000Z");
    assert.equal(minus("2024-02-29T12:00:00.000Z", "1y"), "2023-02-28T12:00:00.000Z");
    assert.equal(minus("2024-01-15T00:00:00.000Z", "1m"), "2023-12-15T00:00:00.000Z");
    assert.equal(minus("2024-01-01T03:00:00.000Z", "1d4h"), "2023-12-30T23:00:00.000Z");
    assert.equal(minus("2024-03-01T00:00:00.000Z", "2w"), "2024-02-16T00:00:00.000Z");
    assert.equal(minus("2024-12-31T23:00:00.000Z", "1y6m"), "2023-06-30T23:00:00.000Z");
  });

  it("keeps the wall-clock time across DST, but hours are elapsed hours", () => {
    const ny = "America/New_York";
    assert.equal(minus("2024-03-10T16:00:00.000Z", "1d", ny), "2024-03-09T17:00:00.000Z");
    assert.equal(minus("2024-11-03T16:00:00.000Z", "1d", ny), "2024-11-02T15:00:00.000Z");
    assert.equal(minus("2024-03-10T16:00:00.000Z", "24h", ny), "2024-03-09T16:00:00.000Z");
  });

  it("is earlier than the start for any non-zero duration, in any zone", () => {
    fc.assert(
      fc.property(
        arbInstant,
        arbDuration.filter((d) => formatCalendarDuration(d) !== "0h"),
        arbZone,
        (time, d, zone) => {
          assert.ok(subtractCalendarDuration(time, d, zone).getTime() < time.getTime());
        },
      ),
    );
  });
});

describe("applyPolicy properties", () => {
  it("splits the input into kept and removed, disjoint, with a reason for each kept", () => {
    fc.assert(
      fc.property(arbSnapshots, arbPolicy, arbOptions, (snapshots, policy, options) => {
        if (!isValid(policy)) {
          assert.throws(() => applyPolicy(snapshots, policy, options), RetentionError);
          return;
        }
        const decisions = applyPolicy(snapshots, policy, options);
        const kept = decisions.flatMap((d) => d.keep.map((k) => k.snapshot));
        const removed = decisions.flatMap((d) => d.remove);
        assert.equal(kept.length + removed.length, snapshots.length);
        assert.deepEqual(
          new Set([...kept, ...removed].map((s) => s.id)),
          new Set(snapshots.map((s) => s.id)),
        );
        for (const decision of decisions) {
          for (const k of decision.keep) assert.ok(k.reasons.length > 0);
          const times = [...decision.keep.map((k) => k.snapshot), ...decision.remove];
          for (const list of [decision.keep.map((k) => k.snapshot), decision.remove]) {
            for (let i = 1; i < list.length; i++) {
              assert.ok((list[i - 1]?.time.getTime() ?? 0) >= (list[i]?.time.getTime() ?? 0));
            }
          }
          assert.ok(times.length > 0);
        }
      }),
    );
  });

  it("never removes a kept snapshot when a count is raised or made unlimited", () => {
    fc.assert(
      fc.property(
        arbSnapshots,
        arbPolicy.filter(isValid),
        arbOptions,
        fc.constantFrom(...COUNT_FIELDS),
        fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 5 })),
        (snapshots, policy, options, field, raise) => {
          const current = policy[field] ?? 0;
          const raised = current === -1 || raise === -1 ? -1 : current + raise;
          const before = keptIds(applyPolicy(snapshots, policy, options));
          const after = keptIds(applyPolicy(snapshots, { ...policy, [field]: raised }, options));
          for (const id of before) assert.ok(after.has(id), `${id} lost when raising ${field}`);
        },
      ),
    );
  });

  it("never removes a kept snapshot when keepWithin grows or a tag is added", () => {
    fc.assert(
      fc.property(
        arbSnapshots,
        arbPolicy.filter(isValid),
        arbOptions,
        arbDuration,
        fc.constantFrom(...TAGS),
        (snapshots, policy, options, extra, tag) => {
          const within = policy.keepWithin ?? duration("1h");
          const longer: CalendarDuration = {
            years: within.years + extra.years,
            months: within.months + extra.months,
            weeks: within.weeks + extra.weeks,
            days: within.days + extra.days,
            hours: within.hours + extra.hours,
          };
          const before = keptIds(applyPolicy(snapshots, policy, options));
          for (const wider of [
            { ...policy, keepWithin: longer },
            { ...policy, keepTags: [...(policy.keepTags ?? []), tag] },
          ]) {
            const after = keptIds(applyPolicy(snapshots, wider, options));
            for (const id of before) assert.ok(after.has(id));
          }
        },
      ),
    );
  });

  it("keepLast N alone keeps exactly the min(N, group size) newest of each group", () => {
    fc.assert(
      fc.property(
        arbSnapshots,
        fc.integer({ min: 1, max: 70 }),
        arbOptions,
        (snapshots, n, options) => {
          for (const decision of applyPolicy(snapshots, { keepLast: n }, options)) {
            const size = decision.keep.length + decision.remove.length;
            assert.equal(decision.keep.length, Math.min(n, size));
            const oldestKept = decision.keep.at(-1)?.snapshot.time.getTime() ?? Infinity;
            for (const removed of decision.remove) assert.ok(removed.time.getTime() <= oldestKept);
            for (const k of decision.keep) assert.deepEqual(k.reasons, ["last snapshot"]);
          }
        },
      ),
    );
  });

  it("keeps the newest snapshot of every group unless the policy only keeps tags", () => {
    fc.assert(
      fc.property(
        arbSnapshots,
        arbPolicy.filter(isValid),
        arbOptions,
        (snapshots, policy, options) => {
          const onlyTags =
            COUNT_FIELDS.every((field) => (policy[field] ?? 0) === 0) &&
            (policy.keepWithin === undefined || formatCalendarDuration(policy.keepWithin) === "0h");
          fc.pre(!onlyTags);
          for (const decision of applyPolicy(snapshots, policy, options)) {
            const newest = Math.max(
              ...decision.keep.map((k) => k.snapshot.time.getTime()),
              ...decision.remove.map((s) => s.time.getTime()),
            );
            assert.ok(decision.keep.some((k) => k.snapshot.time.getTime() === newest));
          }
        },
      ),
    );
  });

  it("does not depend on the order of the input", () => {
    fc.assert(
      fc.property(
        arbSnapshots,
        arbPolicy.filter(isValid),
        arbOptions,
        (snapshots, policy, options) => {
          const forward = applyPolicy(snapshots, policy, options);
          const backward = applyPolicy([...snapshots].reverse(), policy, options);
          assert.deepEqual(forward, backward);
        },
      ),
    );
  });
});
