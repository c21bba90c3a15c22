/** `ferry snapshots`: list the snapshots in a repository. */
import type { Command } from "commander";
import type { SnapshotEntry } from "../repo/snapshot.ts";
import { snapshotTable } from "./snapshot-table.ts";
import { printJson } from "./format.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";
import {
  addSnapshotFilterFlags,
  filterSnapshots,
  type SnapshotFilterFlags,
} from "./snapshot-filter.ts";

type SnapshotsFlags = RepoFlags & SnapshotFilterFlags;

/** Registers `ferry snapshots`. */
export function registerSnapshots(program: Command): void {
  const command = program
    .command("snapshots")
    .summary("list snapshots")
    .description("List the snapshots in the repository, oldest first.")
    .option("--json", "print the snapshots as a JSON array");
  addSnapshotFilterFlags(command, "list only snapshots");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
Size is the total of the files in the snapshot, before deduplication and compression. A *
after an id marks an incomplete snapshot: some files could not be read when it was made.

${PASSWORD_HELP}

Examples:
  ferry snapshots -d /mnt/backup/ferry
  ferry snapshots --host web1 --tag nightly
  ferry snapshots --path /srv/www --json`,
  );
  command.action(async (flags: SnapshotsFlags) => {
    const snapshots = filterSnapshots(
      await withRepository(flags, (repo) => repo.listSnapshots()),
      flags,
    );
    if (flags.json === true) {
      printJson(snapshots.map(snapshotJson));
      return;
    }
    if (snapshots.length === 0) {
      process.stdout.write("No snapshots.\n");
      return;
    }
    process.stdout.write(snapshotTable(snapshots));
    process.stdout.write(
      `${snapshots.length} snapshot${snapshots.length === 1 ? "" : "s"}${snapshots.some((s) => s.snapshot.incomplete === true) ? "; * incomplete" : ""}\n`,
    );
  });
}

/** A snapshot as `--json` prints it (shared with other commands' JSON). */
export function snapshotJson({ id, snapshot }: SnapshotEntry): Record<string, unknown> {
  return {
    id,
    shortId: id.slice(0, 8),
    time: snapshot.time,
    host: snapshot.host,
    user: snapshot.user,
    paths: snapshot.paths,
    tags: snapshot.tags,
    ...(snapshot.parent === undefined ? {} : { parent: snapshot.parent }),
    tree: snapshot.tree,
    incomplete: snapshot.incomplete === true,
    ...(snapshot.excludes === undefined ? {} : { excludes: snapshot.excludes }),
    ...(snapshot.summary === undefined ? {} : { summary: snapshot.summary }),
  };
}
