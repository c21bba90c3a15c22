/** `ferry dump`: write one file of a snapshot, or a tar of a directory, to standard output. */
import type { Command } from "commander";
import { UsageError } from "./errors.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";
import { lookup } from "./snapshot-tree.ts";

/** Registers `ferry dump`. */
export function registerDump(program: Command): void {
  const command = program
    .command("dump")
    .summary("write a file (or a tar of a directory) from a snapshot to stdout")
    .description(
      "Write a file from a snapshot to standard output as it was backed up, or a directory as a tar archive (ustar with pax headers). Every byte is authenticated before it is written.",
    )
    .argument("<snapshot>", 'a snapshot id (4+ hex digits) or "latest"')
    .argument("<path>", "the file or directory in the snapshot, e.g. /etc/nginx/nginx.conf")
    .option("--force", "write a tar archive even when standard output is a terminal");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
A directory is written as a tar archive, which is refused on a terminal: redirect it to a file
or a pipe, or give --force.

${PASSWORD_HELP}

Examples:
  ferry dump latest /etc/nginx/nginx.conf
  ferry dump 1a2b3c4d /var/backups/db.sql | mysql
  ferry dump latest /srv/www > www.tar
  ferry dump latest / | tar -tv`,
  );
  command.action(async (ref: string, path: string, flags: RepoFlags & { force?: boolean }) => {
    const out = process.stdout;
    // A reader that stops early (| head) is not a failure of ours.
    let closed = false;
    out.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") closed = true;
    });
    const { dump } = await import("../backup/dump.ts");
    await withRepository(flags, async (repo) => {
      const entry = await repo.resolveSnapshot(ref);
      await repo.loadIndex();
      if (out.isTTY && flags.force !== true) {
        const { node } = await lookup(repo, entry.snapshot, path);
        if (node === undefined || node.type === "dir") {
          throw new UsageError(
            `${path} is a directory: dump writes it as a tar archive, which does not belong on a terminal. Redirect it (> files.tar, | tar -t) or give --force.`,
          );
        }
      }
      try {
        await dump(repo, entry, path, out);
      } catch (error) {
        if (!closed) throw error;
      }
    });
  });
}
