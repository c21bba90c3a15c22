/** The storage conformance suite against every real FTP and FTPS server configuration. */
import { randomBytes } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { storageConformance } from "../conformance/storage-suite.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { ServerKind } from "./harness.ts";
import { useServer } from "./use-server.ts";

interface Variant {
  kind: ServerKind;
  label: string;
  settings: Record<string, unknown>;
}

const variants: Variant[] = [
  { kind: "vsftpd", label: "vsftpd, plain FTP, EPSV", settings: { tls: "none" } },
  {
    kind: "vsftpd",
    label: "vsftpd, explicit TLS with session reuse required",
    settings: { tls: "explicit" },
  },
  {
    kind: "vsftpd",
    label: "vsftpd, explicit TLS 1.2 only, PASV",
    settings: { tls: "explicit", tlsMaxVersion: "1.2", passiveCommand: "pasv" },
  },
  { kind: "vsftpd-implicit", label: "vsftpd, implicit TLS", settings: { tls: "implicit" } },
  {
    kind: "vsftpd-active",
    label: "vsftpd, active mode only",
    settings: { tls: "none", passive: false },
  },
  { kind: "proftpd", label: "ProFTPD, plain FTP", settings: { tls: "none" } },
  { kind: "proftpd", label: "ProFTPD, explicit TLS", settings: { tls: "explicit" } },
  { kind: "pureftpd", label: "Pure-FTPd, plain FTP", settings: { tls: "none" } },
  { kind: "pureftpd", label: "Pure-FTPd, explicit TLS", settings: { tls: "explicit" } },
];

for (const variant of variants) {
  const server = await useServer(variant.kind);
  if (server === undefined) continue;
  /** The backup directory of the storage last opened, on the server's disk. */
  let disk: string | undefined;
  const onDisk = (key: string): string => {
    if (disk === undefined) throw new Error("no storage was opened");
    return join(disk, key);
  };
  const tls = variant.settings.tls !== "none";
  storageConformance(variant.label, {
    open: async () => {
      const running = await server.get();
      const path = `conformance-${randomBytes(4).toString("hex")}`;
      // The path is relative to the login directory, the user's home.
      disk = join(running.users.password.home, path);
      return openStorage(
        parseSettings({
          type: "ftp",
          host: running.host,
          port: running.port,
          user: running.users.password.name,
          password: running.users.password.password,
          path,
          // A CA file has no effect (and is refused) without TLS.
          ...(running.caFile === undefined || !tls ? {} : { caFile: running.caFile }),
          maxRetries: 1,
          ...variant.settings,
        }),
        { retry: { baseDelayMs: 50, maxDelayMs: 200 } },
      );
    },
    rawNames: (dir) => readdir(onDisk(dir)),
    rawWrite: (key, data) => writeFile(onDisk(key), data),
  });
}
