/** `ferry key list|add|remove|passwd`: the passwords that open a repository. */
import type { Command } from "commander";
import { listNames, readAll } from "../repo/io.ts";
import type { KeyFile } from "../repo/keys.ts";
import { DIRS, fileKey, isObjectName } from "../repo/layout.ts";
import type { Repository } from "../repo/repository.ts";
import { UsageError } from "./errors.ts";
import { formatTime, printJson, table } from "./format.ts";
import { addRepoFlags, PASSWORD_HELP, withRepository, type RepoFlags } from "./repo-flags.ts";
import { newKeyPassword } from "./repo-password.ts";

interface NewPasswordFlags extends RepoFlags {
  newPasswordFile?: string;
  newPasswordCommand?: string;
}

interface KeyEntry {
  name: string;
  file: KeyFile;
}

/** Registers `ferry key` and its subcommands. */
export function registerKey(program: Command): void {
  const key = program
    .command("key")
    .summary("list, add, remove and change passwords (keys)")
    .description(
      "Manage the repository's keys. Each key is one password that opens the repository; any of them does. The data is encrypted once, with master keys that every key file wraps.",
    );

  const list = key
    .command("list")
    .description("List the keys: id, when and where each was made, and which one you used")
    .option("--json", "print the keys as a JSON array");
  addRepoFlags(list);
  list.addHelpText(
    "after",
    `\n${PASSWORD_HELP}\n\nExample:\n  ferry key list -d /mnt/backup/ferry`,
  );
  list.action(async (flags: RepoFlags) => {
    const { keys, current } = await withRepository(flags, async (repo) => ({
      keys: await listKeys(repo),
      current: repo.keyName,
    }));
    if (flags.json === true) {
      printJson(
        keys.map(({ name, file }) => ({
          id: name,
          current: name === current,
          created: file.created,
          host: file.host,
          user: file.user,
          kdf: file.kdf.name,
        })),
      );
      return;
    }
    process.stdout.write(
      table(
        [
          { title: "" },
          { title: "ID" },
          { title: "Created" },
          { title: "Host" },
          { title: "User" },
        ],
        keys.map(({ name, file }) => [
          name === current ? "*" : "",
          name.slice(0, 8),
          formatTime(file.created),
          file.host,
          file.user,
        ]),
      ),
    );
    process.stdout.write("* the key your password opened\n");
  });

  const add = addNewPasswordFlags(
    key
      .command("add")
      .description("Add a key: a further password that opens the repository")
      .option("--json", "print the new key's id as JSON"),
  );
  add.addHelpText(
    "after",
    `
The new password comes from --new-password-file, --new-password-command, FERRY_NEW_PASSWORD,
or a prompt (asked twice). ${PASSWORD_HELP}

Examples:
  ferry key add                                         asks for the new password
  ferry key add --new-password-file ~/.ferry-pass-2`,
  );
  add.action(async (flags: NewPasswordFlags) => {
    const name = await withRepository(flags, async (repo) => {
      const password = await newPassword(flags);
      return addKey(repo, password);
    });
    if (flags.json === true) printJson({ id: name });
    else process.stdout.write(`Added key ${name.slice(0, 8)}.\n`);
  });

  const remove = key
    .command("remove")
    .description("Remove a key; its password no longer opens the repository")
    .argument("<id>", "the key's id, or enough of its start to tell it from the others")
    .option("--json", "print the removed key's id as JSON");
  addRepoFlags(remove);
  remove.addHelpText(
    "after",
    `
The key that opened the repository cannot be removed this way: open with another key's password,
or use \`ferry key passwd\` to replace it. ${PASSWORD_HELP}

Example:
  ferry key remove 1a2b3c4d --password-file ~/.ferry-pass-2`,
  );
  remove.action(async (prefix: string, flags: RepoFlags) => {
    const name = await withRepository(flags, async (repo) => {
      const keys = await listKeys(repo);
      const matches = keys.filter((k) => k.name.startsWith(prefix.toLowerCase()));
      if (!/^[0-9a-f]+$/i.test(prefix) || matches.length === 0) {
        throw new UsageError(
          `No key id starts with "${prefix}"; list them with \`ferry key list\`.`,
        );
      }
      if (matches.length > 1) {
        throw new UsageError(`${matches.length} keys start with "${prefix}"; give more digits.`);
      }
      const target = (matches[0] as KeyEntry).name;
      if (target === repo.keyName) {
        throw new UsageError(
          `Key ${target.slice(0, 8)} is the one your password opened; refusing to remove it. Open the repository with another key's password to remove it, or use \`ferry key passwd\` to replace it.`,
        );
      }
      await repo.storage.remove(fileKey("key", target));
      return target;
    });
    if (flags.json === true) printJson({ removed: name });
    else process.stdout.write(`Removed key ${name.slice(0, 8)}.\n`);
  });

  const passwd = addNewPasswordFlags(
    key
      .command("passwd")
      .description(
        "Change the password: add a key for the new password, then remove the key the old one opened",
      )
      .option("--json", "print the new and the removed key's ids as JSON"),
  );
  passwd.addHelpText(
    "after",
    `
The new password comes from --new-password-file, --new-password-command, FERRY_NEW_PASSWORD,
or a prompt (asked twice). Other keys are left as they are. ${PASSWORD_HELP}

Example:
  ferry key passwd --password-file ~/.ferry-pass --new-password-file ~/.ferry-pass-new`,
  );
  passwd.action(async (flags: NewPasswordFlags) => {
    const { added, removed } = await withRepository(flags, async (repo) => {
      const password = await newPassword(flags);
      const name = await addKey(repo, password);
      // The new key is stored before the old one goes: a failure in between leaves both.
      await repo.storage.remove(fileKey("key", repo.keyName));
      return { added: name, removed: repo.keyName };
    });
    if (flags.json === true) printJson({ added, removed });
    else
      process.stdout.write(
        `Changed the password: key ${added.slice(0, 8)} replaces key ${removed.slice(0, 8)}.\n`,
      );
  });
}

function addNewPasswordFlags(command: Command): Command {
  addRepoFlags(command);
  return command
    .option("--new-password-file <file>", "read the new password from a file")
    .option("--new-password-command <cmd>", "run a command that prints the new password");
}

function newPassword(flags: NewPasswordFlags): Promise<string> {
  return newKeyPassword({
    file: flags.newPasswordFile,
    command: flags.newPasswordCommand,
    variable: "FERRY_NEW_PASSWORD",
  });
}

/** Every readable key file; one that is not a key file stops the listing (DAMAGED). */
async function listKeys(repo: Repository): Promise<KeyEntry[]> {
  const names = (await listNames(repo.storage, DIRS.key)).map((e) => e.name).filter(isObjectName);
  const { parseKeyFile } = await import("../repo/keys.ts");
  const keys: KeyEntry[] = [];
  for (const name of names) {
    keys.push({
      name,
      file: parseKeyFile(await readAll(repo.storage, fileKey("key", name)), name),
    });
  }
  return keys.sort(
    (a, b) => a.file.created.localeCompare(b.file.created) || a.name.localeCompare(b.name),
  );
}

async function addKey(repo: Repository, password: string): Promise<string> {
  if (password === "") throw new UsageError("The new password is empty; choose a password.");
  const { createKeyFile } = await import("../repo/keys.ts");
  const { name, bytes } = createKeyFile(password, repo.keys);
  await repo.storage.write(fileKey("key", name), bytes, { overwrite: false });
  return name;
}
