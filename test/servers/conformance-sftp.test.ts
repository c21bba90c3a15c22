/** The storage conformance suite against OpenSSH: password, key and sftp-only chrooted users. */
import { randomBytes } from "node:crypto";
import { storageConformance } from "../conformance/storage-suite.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { RunningServer } from "./harness.ts";
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

if (server !== undefined) {
  storageConformance("OpenSSH, password user", {
    open: async () => {
      const running = await server.get();
      const user = running.users.password;
      return openStorage(
        parseSettings({
          ...base(running),
          user: user.name,
          password: user.password,
          path: `c-${randomBytes(4).toString("hex")}`,
        }),
      );
    },
  });
  storageConformance("OpenSSH, key user with a passphrase, sequential writes", {
    open: async () => {
      const running = await server.get();
      const user = running.users.key;
      if (user?.encryptedKeyPath === undefined) throw new Error("the harness gave no key user");
      return openStorage(
        parseSettings({
          ...base(running),
          user: user.name,
          privateKey: user.encryptedKeyPath,
          passphrase: user.passphrase,
          sequentialWrites: true,
          path: `c-${randomBytes(4).toString("hex")}`,
        }),
      );
    },
  });
  storageConformance("OpenSSH, sftp-only chrooted user", {
    open: async () => {
      const running = await server.get();
      const user = running.users.chroot;
      if (user === undefined) throw new Error("the harness gave no chroot user");
      return openStorage(
        parseSettings({
          ...base(running),
          user: user.name,
          password: user.password,
          path: `upload/c-${randomBytes(4).toString("hex")}`,
        }),
      );
    },
  });
}
