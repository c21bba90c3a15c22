/** User and group names for uids and gids, read once from /etc/passwd and /etc/group. */
import { readFileSync } from "node:fs";

function readNames(file: string): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name !== undefined && name !== "" && id !== undefined && /^\d+$/.test(id))
        names.set(Number(id), name);
    }
  } catch {
    // No such file (containers, other systems): numeric ids only.
  }
  return names;
}

/** Lazily loaded name tables. */
export class OwnerNames {
  #users: Map<number, string> | undefined;
  #groups: Map<number, string> | undefined;

  user(uid: number): string | undefined {
    this.#users ??= readNames("/etc/passwd");
    return this.#users.get(uid);
  }

  group(gid: number): string | undefined {
    this.#groups ??= readNames("/etc/group");
    return this.#groups.get(gid);
  }
}
