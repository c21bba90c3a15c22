/**
 * The host key trust policy of the settings: which check `hostKeyTrust` selects, and the
 * known_hosts file it reads. The checks themselves are pure (host-key.ts).
 */
import { readFile } from "node:fs/promises";
import { StorageError, fromNodeError } from "../errors.ts";
import type { SftpSettings } from "../settings.ts";
import {
  type HostKeyVerdict,
  type KnownHost,
  checkFingerprint,
  checkKnownHosts,
  fingerprint,
  keyType,
  parseKnownHosts,
} from "./host-key.ts";
import { expandHome } from "./key-file.ts";

export interface KnownHostsFile {
  file: string;
  entries: KnownHost[];
}

/** The known_hosts entries for hostKeyTrust=knownHosts (INVALID when the file cannot be read). */
export async function readKnownHosts(settings: SftpSettings): Promise<KnownHostsFile | undefined> {
  if (settings.hostKeyTrust !== "knownHosts") return undefined;
  if (settings.knownHostsFile === undefined) {
    throw new StorageError(
      "INVALID",
      "hostKeyTrust=knownHosts needs knownHostsFile (e.g. ~/.ssh/known_hosts).",
    );
  }
  const file = expandHome(settings.knownHostsFile);
  const text = await readFile(file, "utf8").catch((error: unknown) => {
    const failure = fromNodeError(error, `Reading the known_hosts file "${file}" (knownHostsFile)`);
    throw new StorageError("INVALID", failure.message, { cause: error, retriable: false });
  });
  return { file, entries: parseKnownHosts(text) };
}

export function verifyHostKey(
  settings: SftpSettings,
  port: number,
  key: Buffer,
  knownHosts: KnownHostsFile | undefined,
): HostKeyVerdict {
  switch (settings.hostKeyTrust) {
    case "insecure":
      return {
        ok: true,
        note: `host key ${keyType(key)} ${fingerprint(key)} NOT verified (hostKeyTrust=insecure)`,
      };
    case "knownHosts":
      return checkKnownHosts(
        knownHosts?.entries ?? [],
        knownHosts?.file ?? "",
        key,
        settings.host,
        port,
      );
    case "fingerprint":
      return checkFingerprint(key, settings.hostKey, settings.host, port);
  }
}
