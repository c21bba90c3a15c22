/** `ferry stats`: how big the repository is and how much deduplication and compression save. */
import type { Command } from "commander";
import { formatCount, formatSize, printJson } from "./format.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";

/** The figures `ferry stats` prints. */
interface RepoStats {
  snapshots: number;
  packs: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Bytes of blobs as stored: compressed and encrypted (pack headers not counted). */
  storedBytes: number;
  /** Bytes of the same blobs before compression: the unique data. */
  rawBytes: number;
  /** Sum of the file sizes of every snapshot, from their summaries. */
  snapshotBytes: number;
  /** Snapshots without a summary (their files are not in snapshotBytes). */
  snapshotsWithoutSummary: number;
  /** snapshotBytes / rawBytes of data blobs: how often each stored byte is used. */
  deduplication: number | null;
  /** rawBytes / storedBytes. */
  compression: number | null;
}

/** Registers `ferry stats`. */
export function registerStats(program: Command): void {
  const command = program
    .command("stats")
    .summary("show repository size, deduplication and compression")
    .description(
      "Show the repository's snapshots, packs and blobs, the size stored against the size of the data, and the savings of deduplication and compression.",
    )
    .option("--json", "print the figures as JSON");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
${PASSWORD_HELP}

Examples:
  ferry stats -d /mnt/backup/ferry
  ferry stats --json`,
  );
  command.action(async (flags: RepoFlags) => {
    const stats = await withRepository(flags, async (repo): Promise<RepoStats> => {
      const snapshots = await repo.listSnapshots();
      await repo.loadIndex();
      let dataBlobs = 0;
      let treeBlobs = 0;
      let storedBytes = 0;
      let rawBytes = 0;
      let dataRaw = 0;
      for (const [, at] of repo.index.entries()) {
        if (at.type === "data") {
          dataBlobs++;
          dataRaw += at.rawLength;
        } else treeBlobs++;
        storedBytes += at.length;
        rawBytes += at.rawLength;
      }
      const summarised = snapshots.filter((s) => s.snapshot.summary !== undefined);
      const snapshotBytes = summarised.reduce(
        (sum, s) => sum + (s.snapshot.summary?.totalBytes ?? 0),
        0,
      );
      return {
        snapshots: snapshots.length,
        packs: [...repo.index.packs()].length,
        dataBlobs,
        treeBlobs,
        storedBytes,
        rawBytes,
        snapshotBytes,
        snapshotsWithoutSummary: snapshots.length - summarised.length,
        deduplication: dataRaw > 0 ? snapshotBytes / dataRaw : null,
        compression: storedBytes > 0 ? rawBytes / storedBytes : null,
      };
    });
    if (flags.json === true) {
      printJson(stats);
      return;
    }
    const ratio = (r: number | null): string => (r === null ? "–" : `${r.toFixed(2)}×`);
    process.stdout.write(
      [
        `Snapshots:        ${formatCount(stats.snapshots)}`,
        `Packs:            ${formatCount(stats.packs)}`,
        `Blobs:            ${formatCount(stats.dataBlobs)} data, ${formatCount(stats.treeBlobs)} tree`,
        `Stored:           ${formatSize(stats.storedBytes)} (compressed and encrypted)`,
        `Unique data:      ${formatSize(stats.rawBytes)} (before compression)`,
        `Snapshots total:  ${formatSize(stats.snapshotBytes)} (the files of every snapshot, added up)${stats.snapshotsWithoutSummary > 0 ? `; ${stats.snapshotsWithoutSummary} snapshots without a summary left out` : ""}`,
        `Deduplication:    ${ratio(stats.deduplication)} (snapshots total / unique file data)`,
        `Compression:      ${ratio(stats.compression)} (unique data / stored)`,
        "",
      ].join("\n"),
    );
  });
}
