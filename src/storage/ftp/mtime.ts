/**
 * Modification times: set with MFMT (RFC draft, ProFTPD, Pure-FTPd), else vsftpd's
 * non-standard `MDTM YYYYMMDDhhmmss path`, else `SITE UTIME` (ProFTPD mod_site_misc and
 * others); read from the MLSx `modify` fact or MDTM. All times are UTC.
 */
import { StorageError } from "../errors.ts";
import type { Control } from "./control.ts";
import { parseMlsxTime } from "./list-parsers.ts";
import type { FeatureSet, Quirks } from "./quirks.ts";
import { replyError, type FtpReply } from "./replies.ts";

export type MtimeMethod = "MFMT" | "MDTM" | "SITE UTIME" | "SITE UTIME 5";

/** `YYYYMMDDhhmmss` in UTC (whole seconds). */
export function formatFtpTime(date: Date): string {
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  return iso.slice(0, 19).replace(/[-T:]/g, "");
}

/**
 * The methods to try, best first, from what the server advertises: FEAT MFMT; vsftpd's MDTM
 * form; SITE UTIME when FEAT (ProFTPD) or `SITE HELP` (`siteHelp`) lists it, in its two
 * common forms.
 */
export function mtimeMethods(
  features: FeatureSet,
  quirks: Quirks,
  siteHelp: string | undefined,
): MtimeMethod[] {
  const methods: MtimeMethod[] = [];
  if (features.map.has("MFMT")) methods.push("MFMT");
  if (quirks.mdtmWrite) methods.push("MDTM");
  const siteUtime =
    features.lines.some((line) => /^SITE\s+UTIME\b/i.test(line)) ||
    (siteHelp !== undefined && /\bUTIME\b/i.test(siteHelp));
  if (siteUtime) methods.push("SITE UTIME 5", "SITE UTIME");
  return methods;
}

/** The command for one method. */
export function mtimeCommand(
  method: MtimeMethod,
  path: string,
  date: Date,
): { verb: string; arg: string } {
  const time = formatFtpTime(date);
  switch (method) {
    case "MFMT":
      return { verb: "MFMT", arg: `${time} ${path}` };
    case "MDTM":
      return { verb: "MDTM", arg: `${time} ${path}` };
    case "SITE UTIME":
      return { verb: "SITE", arg: `UTIME ${time} ${path}` };
    case "SITE UTIME 5":
      return { verb: "SITE", arg: `UTIME ${path} ${time} ${time} ${time} UTC` };
  }
}

function accepted(method: MtimeMethod, reply: FtpReply): boolean {
  // MFMT answers 213, vsftpd's MDTM 213, SITE UTIME 200 (ProFTPD) or 250.
  return (
    reply.code >= 200 &&
    reply.code < 300 &&
    !(method === "MDTM" && /^213 \d{14}/.test(reply.message))
  );
}

/**
 * Sets `path`'s modification time with the first method that works, and narrows `methods` to
 * it (a refused method — 500/501/502/504 — is dropped for this connection). UNSUPPORTED when
 * none is left; a refusal about the file itself (550) is translated as such.
 */
export async function setMtime(
  control: Control,
  methods: MtimeMethod[],
  path: string,
  date: Date,
): Promise<void> {
  const what = `Setting the modification time of "${path}"`;
  while (methods.length > 0) {
    const method = methods[0] as MtimeMethod;
    const { verb, arg } = mtimeCommand(method, path, date);
    const reply = await control.request(verb, arg);
    if (accepted(method, reply)) {
      methods.splice(1);
      return;
    }
    if ([500, 501, 502, 504].includes(reply.code) || (method === "MDTM" && reply.code === 213)) {
      control.note(
        `${method} does not set times here (${reply.message.split("\n")[0] ?? ""}); trying the next method`,
      );
      methods.shift();
      continue;
    }
    throw replyError(reply, what, path);
  }
  throw new StorageError(
    "UNSUPPORTED",
    `${what} failed: this server offers no way to set modification times (no MFMT, vsftpd MDTM or SITE UTIME).`,
    { key: path },
  );
}

/** The modification time from `MDTM path`, or undefined when the server gives none. */
export async function readMtime(control: Control, path: string): Promise<Date | undefined> {
  const reply = await control.request("MDTM", path);
  if (reply.code !== 213) return undefined;
  return parseMlsxTime(reply.message.slice(4).trim());
}
