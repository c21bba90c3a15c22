/** Snapshots: the root of one backup, written last, after every pack and index it needs. */
import { z } from "zod";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const summarySchema = z.object({
  filesNew: z.int(),
  filesChanged: z.int(),
  filesUnmodified: z.int(),
  dirs: z.int(),
  /** Files, links and specials skipped with a warning. */
  errors: z.int(),
  /** Bytes of all files in the snapshot. */
  totalBytes: z.int(),
  totalFiles: z.int(),
  /** Plaintext bytes of blobs this backup added. */
  dataAdded: z.int(),
  /** Stored (compressed, sealed) bytes this backup added. */
  dataAddedPacked: z.int(),
  blobsAdded: z.int(),
  start: z.iso.datetime(),
  end: z.iso.datetime(),
});

/** Counts a backup reports and records. */
export type BackupSummary = z.infer<typeof summarySchema>;

export const snapshotSchema = z.object({
  version: z.literal(1),
  time: z.iso.datetime(),
  host: z.string(),
  user: z.string(),
  uid: z.int(),
  gid: z.int(),
  paths: z.array(z.string()),
  tags: z.array(z.string()),
  parent: hex64.optional(),
  tree: hex64,
  program: z.string(),
  excludes: z.array(z.string()).optional(),
  /** Set when some files could not be read; they are missing from the snapshot. */
  incomplete: z.boolean().optional(),
  summary: summarySchema.optional(),
});

/** A decoded snapshot file. */
export type Snapshot = z.infer<typeof snapshotSchema>;

/** A snapshot with the name it is stored under. */
export interface SnapshotEntry {
  id: string;
  snapshot: Snapshot;
}
