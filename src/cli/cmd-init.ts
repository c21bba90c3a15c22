/** `ferry init`: create a repository at a destination. */
import type { Command } from "commander";
import { redactUrl } from "../storage/url.ts";
import { printJson } from "./format.ts";
import { addRepoFlags, connect, openOptions, passwordFrom, type RepoFlags } from "./repo-flags.ts";

/** Registers `ferry init`. */
export function registerInit(program: Command): void {
  const command = program
    .command("init")
    .summary("create a repository at a destination")
    .description(
      "Create a repository at a destination: an empty directory, locally or on an FTP, FTPS or SFTP server. Everything stored there is encrypted with keys that the password unlocks.",
    )
    .option("--json", "print the new repository's id as JSON");
  addRepoFlags(command);
  command.addHelpText(
    "after",
    `
Asks for the password twice on a terminal; else it comes from --password-file, --password-command
or FERRY_PASSWORD. Keep it safe: without it nobody, you included, can read the backups.

Exit status: 0 created, 1 failed (connection, server, a repository already there), 2 bad usage.

Examples:
  ferry init -d /mnt/backup/ferry
  ferry init -d sftp://u123@box.example/ferry --set privateKey=~/.ssh/id_ed25519 \\
      --set hostKey=SHA256:… --password-file ~/.ferry-pass
  ferry init -d ftpes://backup@storage.example/ferry --destination-password-file ~/.ftp-pass \\
      --password-command "pass show ferry"`,
  );
  command.action(async (flags: RepoFlags) => {
    const password = await passwordFrom(flags, true);
    const storage = await connect(flags);
    let id: string;
    try {
      const { Repository } = await import("../repo/repository.ts");
      const repo = await Repository.init(storage, password, openOptions(flags));
      id = repo.config.id;
    } finally {
      await storage.close();
    }
    const destination = redactUrl(flags.destination);
    if (flags.json === true) {
      printJson({ id, destination });
      return;
    }
    process.stdout.write(
      `Created repository ${id.slice(0, 8)} at ${destination}.\n\n` +
        "Keep the password safe: the data cannot be read without it. A lost password means lost\n" +
        "backups; nobody can recover them. `ferry key add` adds a second password.\n",
    );
  });
}
