/** The snapshot table shared by `snapshots` and `forget`. */
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { formatSize, formatTime, table } from "./format.ts";

/** Its columns, for tables that add some. */
export const SNAPSHOT_COLUMNS = [
  { title: "ID" },
  { title: "Time" },
  { title: "Host" },
  { title: "Tags" },
  { title: "Paths" },
  { title: "Size", right: true },
];

/** One snapshot's row: short id (`*` when incomplete), time, host, tags, paths, size. */
export function snapshotRow({ id, snapshot }: SnapshotEntry): string[] {
  return [
    `${id.slice(0, 8)}${snapshot.incomplete === true ? "*" : ""}`,
    formatTime(snapshot.time),
    snapshot.host,
    snapshot.tags.join(","),
    snapshot.paths.join("\n"),
    snapshot.summary === undefined ? "" : formatSize(snapshot.summary.totalBytes),
  ];
}

/** The table of some snapshots. */
export function snapshotTable(entries: readonly SnapshotEntry[]): string {
  return table(SNAPSHOT_COLUMNS, entries.map(snapshotRow));
}
