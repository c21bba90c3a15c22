/**
 * A backup in its own process, for tests that kill it or run several at once:
 * `node backup-child.ts <repository directory> <cache directory> <source>...`.
 * Writes one JSON line per event to stdout: `{"warning": …}` as they come, `{"done": …}` at the
 * end with the snapshot id and summary.
 */
import { backup } from "../../src/backup/archiver.ts";
import { Repository } from "../../src/repo/repository.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";

/** One line of the child's output. */
export type ChildEvent =
  | { warning: string }
  | { done: string; summary: Record<string, unknown> | undefined };

const [repoDir, cacheDir, ...sources] = process.argv.slice(2);
if (repoDir === undefined || cacheDir === undefined || sources.length === 0) {
  throw new Error("usage: backup-child.ts <repository directory> <cache directory> <source>...");
}
const say = (event: ChildEvent): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};
const storage = await openStorage(parseSettings({ type: "local", path: repoDir }));
try {
  const repo = await Repository.open(storage, "pw", { cacheRoot: cacheDir });
  const result = await backup(repo, {
    paths: sources,
    workers: 1,
    onWarning: (w) => {
      say({ warning: w.message });
    },
  });
  say({ done: result.id, summary: result.snapshot.summary as Record<string, unknown> | undefined });
} finally {
  await storage.close();
}
