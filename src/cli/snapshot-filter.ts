/** `--host`, `--tag` and `--path`: which snapshots a command looks at. */
import { type Command, Option } from "commander";
import { resolve } from "node:path";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { collect } from "./parsers.ts";

/** Parsed filter flags. */
export interface SnapshotFilterFlags {
  host?: string[];
  tag?: string[];
  path?: string[];
}

/** Adds the filter flags; `what` says what they select, e.g. "list only snapshots". */
export function addSnapshotFilterFlags(command: Command, what: string): Command {
  return command
    .addOption(new Option("--host <host>", `${what} of this host (repeatable)`).argParser(collect))
    .addOption(
      new Option(
        "--tag <tag>",
        `${what} with this tag (repeatable: any of them; a,b means both)`,
      ).argParser(collect),
    )
    .addOption(
      new Option(
        "--path <path>",
        `${what} that include this path (repeatable: all of them)`,
      ).argParser(collect),
    );
}

/** The snapshots that pass the filters, in their order. */
export function filterSnapshots(
  snapshots: readonly SnapshotEntry[],
  flags: SnapshotFilterFlags,
): SnapshotEntry[] {
  const paths = (flags.path ?? []).map((p) => resolve(p));
  const tagSets = (flags.tag ?? []).map((t) => t.split(",").filter((x) => x !== ""));
  return snapshots.filter(({ snapshot }) => {
    if (flags.host !== undefined && !flags.host.includes(snapshot.host)) return false;
    if (tagSets.length > 0 && !tagSets.some((set) => set.every((t) => snapshot.tags.includes(t))))
      return false;
    return paths.every((p) => snapshot.paths.includes(p));
  });
}
