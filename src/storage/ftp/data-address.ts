/**
 * Where data connections go: PASV/EPSV reply parsing, the passive address policy
 * (`passiveAddress`, `allowForeignDataHost`) and PORT/EPRT arguments. Pure functions.
 *
 * A server-named data address is a bounce/SSRF risk when trusted blindly (GHSA-69rc-qfx4-h683),
 * and behind NAT it is often a private address that cannot be reached: the policy below only
 * ever connects to the control connection's peer unless told otherwise.
 */
import { isIP } from "node:net";
import { StorageError } from "../errors.ts";

/** `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` → host and port; undefined when malformed. */
export function parsePasvReply(message: string): { host: string; port: number } | undefined {
  const match = /(?<![\d])(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})/.exec(
    message,
  );
  if (!match) return undefined;
  const numbers = match.slice(1).map(Number);
  if (numbers.some((n) => n > 255)) return undefined;
  const [a, b, c, d, p1, p2] = numbers as [number, number, number, number, number, number];
  const port = p1 * 256 + p2;
  if (port === 0) return undefined;
  return { host: `${String(a)}.${String(b)}.${String(c)}.${String(d)}`, port };
}

/** `229 Entering Extended Passive Mode (|||6446|)` → port (also `!!!` delimiters, IBM i). */
export function parseEpsvReply(message: string): number | undefined {
  const match = /\(([!-~])\1\1(\d{1,5})\1\)/.exec(message);
  if (!match) return undefined;
  const port = Number(match[2]);
  return port > 0 && port < 65_536 ? port : undefined;
}

/** Strips the IPv4-mapped IPv6 prefix: `::ffff:1.2.3.4` → `1.2.3.4`. */
export function plainAddress(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
}

/**
 * True for addresses a server should never name for a public data connection: RFC 1918,
 * loopback, link-local, CGNAT, unspecified, multicast/reserved, and IPv6 ULA/link-local/loopback.
 */
export function isUnroutable(address: string): boolean {
  const plain = plainAddress(address);
  if (isIP(plain) === 4) {
    const [a = 0, b = 0] = plain.split(".").map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      a >= 224
    );
  }
  if (isIP(plain) === 6) {
    const lower = plain.toLowerCase();
    return lower === "::" || lower === "::1" || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower);
  }
  return true;
}

export interface DataHostPolicy {
  passiveAddress: "auto" | "control" | "server";
  allowForeignDataHost: boolean;
}

/**
 * The host a PASV data connection should go to.
 *
 * - `control`: always the control connection's peer.
 * - `server`: the named address, only when it is the control peer or `allowForeignDataHost`;
 *   otherwise an INVALID error naming the fix.
 * - `auto`: the named address when it is the control peer; the control peer when the named
 *   address is private/unroutable or foreign — unless `allowForeignDataHost` and it is public.
 *
 * `controlPeer` is the control connection's remote address, or, through a proxy, the configured
 * host (the proxy resolves it); `controlIsAddress` says whether it is an IP literal to compare.
 */
export function chooseDataHost(
  named: string,
  controlPeer: string,
  policy: DataHostPolicy,
): { host: string; note?: string } {
  const peer = plainAddress(controlPeer);
  const target = plainAddress(named);
  const same = target === peer || (isLoopback(target) && isLoopback(peer));
  if (policy.passiveAddress === "control" || same) return { host: same ? target : peer };
  if (policy.passiveAddress === "server") {
    if (policy.allowForeignDataHost) return { host: target };
    throw new StorageError(
      "INVALID",
      `Opening a data connection refused: the server named ${target} for it, not the control connection's address ${peer}. Connecting to another host is a bounce risk; set passiveAddress=control (or auto) to use ${peer}, or allowForeignDataHost=true if the server really uses a separate data host.`,
      { retriable: false },
    );
  }
  if (!isUnroutable(target) && policy.allowForeignDataHost) return { host: target };
  return {
    host: peer,
    note: `PASV named ${target}; using the control connection's address ${peer} instead`,
  };
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.");
}

/** The PORT argument `h1,h2,h3,h4,p1,p2` for an IPv4 listener. */
export function formatPortArgument(address: string, port: number): string {
  return `${plainAddress(address).split(".").join(",")},${String(port >> 8)},${String(port & 255)}`;
}

/** The EPRT argument `|1|addr|port|` or `|2|addr|port|`. */
export function formatEprtArgument(address: string, port: number): string {
  const plain = plainAddress(address);
  return `|${isIP(plain) === 6 ? "2" : "1"}|${plain}|${String(port)}|`;
}
