/** `ferry unlock`: remove stale locks, or every lock with --remove-all. */
import type { Command } from "commander";
import { printJson } from "./format.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";

/** Registers `ferry unlock`. */
export function registerUnlock(program: Command): void {
  const command = program
    .command("unlock")
    .summary("remove stale locks")
    .description(
      "Remove stale locks: those whose lease expired, and those of processes on this host that are gone. With --remove-all, remove every lock, live ones included.",
    )
    .option(
      "--remove-all",
      "remove every lock, also those of runs that may still be going (make sure none is)",
    )
    .option("--json", "print what was removed as JSON");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
Locks clear themselves: a lease expires 10 minutes after its holder last renewed it, and
the next run removes it. Use --remove-all only when no other ferry works on the repository.

${PASSWORD_HELP}

Examples:
  ferry unlock -d /mnt/backup/ferry
  ferry unlock --remove-all`,
  );
  command.action(async (flags: RepoFlags & { removeAll?: boolean }) => {
    const { listLocks, unlock } = await import("../repo/lock.ts");
    const { removed, remaining } = await withRepository(flags, async (repo) => {
      const removed = await unlock(repo, flags.removeAll === true);
      return { removed, remaining: (await listLocks(repo)).length };
    });
    if (flags.json === true) {
      printJson({ removed, remaining });
      return;
    }
    if (removed.length === 0) process.stdout.write("No stale locks to remove.\n");
    else {
      process.stdout.write(
        `Removed ${removed.length} lock${removed.length === 1 ? "" : "s"}:\n${removed.map((r) => `  ${r}\n`).join("")}`,
      );
    }
    if (remaining > 0) {
      process.stdout.write(
        `${remaining} live lock${remaining === 1 ? " remains" : "s remain"}; --remove-all removes ${remaining === 1 ? "it" : "them"}.\n`,
      );
    }
  });
}
