/** The storage conformance suite against OpenSSH: password, key and sftp-only chrooted users. */
import { randomBytes } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { storageConformance } from "../conformance/storage-suite.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { RunningServer } from "./harness.ts";
import { useServer } from "./use-server.ts";

const server = await useServer("openssh");

/**
 * Raw access to the backup directory on the server's disk, bypassing the SFTP storage: `disk()`
 * is the directory of the storage last opened (set by `open`).
 */
function rawHooks(disk: () => string | undefined) {
  const onDisk = (key: string): string => {
    const dir = disk();
    if (dir === undefined) throw new Error("no storage was opened");
    return join(dir, key);
  };
  return {
    rawNames: (dir: string) => readdir(onDisk(dir)),
    rawWrite: (key: string, data: Uint8Array) => writeFile(onDisk(key), data),
  };
}

function base(running: RunningServer): Record<string, unknown> {
  return {
    type: "sftp",
    host: running.host,
    port: running.port,
    hostKey: running.hostKeyFingerprint,
    maxRetries: 1,
  };
}

if (server !== undefined) {
  // Each `path` below is relative to the login directory: the user's home on the server's disk,
  // and for the chrooted user the chroot.
  let passwordDisk: string | undefined;
  storageConformance("OpenSSH, password user", {
    open: async () => {
      const running = await server.get();
      const user = running.users.password;
      const path = `c-${randomBytes(4).toString("hex")}`;
      passwordDisk = join(user.home, path);
      return openStorage(
        parseSettings({
          ...base(running),
          user: user.name,
          password: user.password,
          path,
        }),
      );
    },
    ...rawHooks(() => passwordDisk),
  });
  let keyDisk: string | undefined;
  storageConformance("OpenSSH, key user with a passphrase, sequential writes", {
    open: async () => {
      const running = await server.get();
      const user = running.users.key;
      if (user?.encryptedKeyPath === undefined) throw new Error("the harness gave no key user");
      const path = `c-${randomBytes(4).toString("hex")}`;
      keyDisk = join(user.home, path);
      return openStorage(
        parseSettings({
          ...base(running),
          user: user.name,
          privateKey: user.encryptedKeyPath,
          passphrase: user.passphrase,
          sequentialWrites: true,
          path,
        }),
      );
    },
    ...rawHooks(() => keyDisk),
  });
  let chrootDisk: string | undefined;
  storageConformance("OpenSSH, sftp-only chrooted user", {
    open: async () => {
      const running = await server.get();
      const user = running.users.chroot;
      if (user === undefined) throw new Error("the harness gave no chroot user");
      const path = `upload/c-${randomBytes(4).toString("hex")}`;
      chrootDisk = join(user.home, path);
      return openStorage(
        parseSettings({
          ...base(running),
          user: user.name,
          password: user.password,
          path,
        }),
      );
    },
    ...rawHooks(() => chrootDisk),
  });
}
