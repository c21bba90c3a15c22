/**
 * The `algorithms` setting → ssh2's `algorithms` option. Each list either replaces ssh2's
 * defaults (`["aes128-ctr", "aes256-ctr"]`) or edits them with OpenSSH's prefixes: `+name`
 * appends, `^name` prepends, `-name` removes (`["+ssh-rsa"]` lets an old server in).
 */
import type {
  Algorithms,
  AlgorithmList,
  CipherAlgorithm,
  KexAlgorithm,
  MacAlgorithm,
  ServerHostKeyAlgorithm,
} from "ssh2";
import type { SftpSettings } from "../settings.ts";

/**
 * Host key algorithms in a fixed order (ssh2 1.17's defaults, which are OpenSSH's order): pinned
 * here so that an ssh2 upgrade cannot make the server present a different key than the one the
 * user trusted (Duplicati#4466, kopia#2443).
 */
export const HOST_KEY_ORDER: readonly ServerHostKeyAlgorithm[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

type Edit = Record<"append" | "prepend" | "remove", string[]>;

/** One setting list → a full list, or an edit of the defaults (all entries prefixed). */
export function algorithmList(list: readonly string[]): string[] | Edit {
  const prefixed = list.filter((name) => /^[+^-]/.test(name));
  if (prefixed.length === 0) return [...list];
  if (prefixed.length !== list.length) {
    throw new Error(
      `mix of plain names and +/^/- edits in ${JSON.stringify(list)}: use either a full list or only edits`,
    );
  }
  const pick = (prefix: string) =>
    list.filter((name) => name.startsWith(prefix)).map((name) => name.slice(1));
  return { append: pick("+"), prepend: pick("^"), remove: pick("-") };
}

/**
 * The ssh2 `algorithms` option. Ciphers and MACs keep ssh2's defaults unless the setting gives
 * them: on a CPU with AES instructions ssh2 1.17 puts aes128-gcm@openssh.com first and, without
 * its native binding (the usual case), chacha20-poly1305 last, which is the fastest order on
 * Node's crypto. Measured against OpenSSH on loopback, 4 × 64 MiB uploads: aes128-gcm and
 * aes256-gcm alike, aes128-ctr + hmac-sha2-256-etm ~15% slower, chacha20-poly1305 ~40%
 * slower at twice the client CPU per byte. `preferHostKeys` (algorithms for the key types
 * known_hosts lists for this host) go first in the host key list unless the setting gives that
 * list.
 */
export function sshAlgorithms(
  setting: SftpSettings["algorithms"],
  preferHostKeys: readonly string[] = [],
): Algorithms {
  const algorithms: Algorithms = {};
  if (setting?.cipher)
    algorithms.cipher = algorithmList(setting.cipher) as AlgorithmList<CipherAlgorithm>;
  if (setting?.kex) algorithms.kex = algorithmList(setting.kex) as AlgorithmList<KexAlgorithm>;
  if (setting?.hmac) algorithms.hmac = algorithmList(setting.hmac) as AlgorithmList<MacAlgorithm>;
  const ordered = [
    ...preferHostKeys.filter((name) => HOST_KEY_ORDER.includes(name as ServerHostKeyAlgorithm)),
    ...HOST_KEY_ORDER,
  ];
  const hostKeys = [...new Set(ordered)] as ServerHostKeyAlgorithm[];
  if (setting?.serverHostKey === undefined) {
    algorithms.serverHostKey = hostKeys;
  } else {
    const list = algorithmList(setting.serverHostKey);
    // Edits apply to the pinned order, not to whatever ssh2's defaults are.
    algorithms.serverHostKey = (
      Array.isArray(list) ? list : applyEdit(hostKeys, list)
    ) as ServerHostKeyAlgorithm[];
  }
  return algorithms;
}

function applyEdit(base: readonly string[], edit: Edit): string[] {
  const kept = base.filter((name) => !edit.remove.includes(name) && !edit.prepend.includes(name));
  return [...edit.prepend, ...kept, ...edit.append.filter((name) => !kept.includes(name))];
}
