/** The storage conformance suite against OpenSSH: password, key and sftp-only chrooted users. */
import { randomBytes } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { storageConformance } from "../conformance/storage-suite.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { RunningServer, TestUser } from "./harness.ts";
import { useServer } from "./use-server.ts";

const server = await useServer("openssh");

function base(running: RunningServer): Record<string, unknown> {
  return {
    type: "sftp",
    host: running.host,
    port: running.port,
    hostKey: running.hostKeyFingerprint,
    maxRetries: 1,
  };
}

interface Variant {
  label: string;
  /** The user to log in as, and the settings that log in as that user. */
  login: (running: RunningServer) => { user: TestUser; settings: Record<string, unknown> };
  /** Where the storage's path goes, below the login directory. */
  parent: string;
}

const variants: Variant[] = [
  {
    label: "OpenSSH, password user",
    login: (running) => {
      const user = running.users.password;
      return { user, settings: { user: user.name, password: user.password } };
    },
    parent: "",
  },
  {
    label: "OpenSSH, key user with a passphrase, sequential writes",
    login: (running) => {
      const user = running.users.key;
      if (user?.encryptedKeyPath === undefined) throw new Error("the harness gave no key user");
      return {
        user,
        settings: {
          user: user.name,
          privateKey: user.encryptedKeyPath,
          passphrase: user.passphrase,
          sequentialWrites: true,
        },
      };
    },
    parent: "",
  },
  {
    label: "OpenSSH, sftp-only chrooted user",
    login: (running) => {
      const user = running.users.chroot;
      if (user === undefined) throw new Error("the harness gave no chroot user");
      return { user, settings: { user: user.name, password: user.password } };
    },
    parent: "upload/",
  },
];

if (server !== undefined) {
  for (const variant of variants) {
    // `path` is relative to the login directory: the user's home on the server's disk, and for
    // the chrooted user the chroot.
    /** The backup directory of the storage last opened, on the server's disk. */
    let disk: string | undefined;
    const onDisk = (key: string): string => {
      if (disk === undefined) throw new Error("no storage was opened");
      return join(disk, key);
    };
    storageConformance(variant.label, {
      open: async () => {
        const running = await server.get();
        const { user, settings } = variant.login(running);
        const path = `${variant.parent}c-${randomBytes(4).toString("hex")}`;
        disk = join(user.home, path);
        return openStorage(parseSettings({ ...base(running), ...settings, path }));
      },
      rawNames: (dir) => readdir(onDisk(dir)),
      rawWrite: (key, data) => writeFile(onDisk(key), data),
    });
  }
}
