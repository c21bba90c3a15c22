/**
 * After login: FEAT, SYST, OPTS UTF8, TYPE, OPTS MLST, PWD and the backup root, SITE HELP where
 * needed; builds the Session and the ProtocolConnection with its features and info.
 */
import { StorageError } from "../errors.ts";
import type { ProtocolConnection } from "../protocol.ts";
import type { FtpSettings } from "../settings.ts";
import { FtpConnection } from "./connection.ts";
import type { Control } from "./control.ts";
import type { DataContext } from "./data-connection.ts";
import { mtimeMethods } from "./mtime.ts";
import { parse257, resolveRoot } from "./paths.ts";
import { detectServer, parseFeat, quirksOf } from "./quirks.ts";
import type { Session } from "./session.ts";
import type { TlsPolicy } from "./tls.ts";

/** Reads what the server offers and opens the session on a logged-in control connection. */
export async function openSession(
  settings: FtpSettings,
  control: Control,
  policy: TlsPolicy | undefined,
  banner: string,
  fingerprint: string | undefined,
  tlsInfo: { version: string; cipher: string } | undefined,
): Promise<ProtocolConnection> {
  const feat = parseFeat(await control.request("FEAT"));
  const syst = await control.request("SYST");
  const kind = detectServer(banner, syst.code === 215 ? syst.message : "");
  const quirks = quirksOf(kind, /UNIX/i.test(syst.message));
  if (control.codec.name === "utf-8" && feat.map.has("UTF8"))
    await control.request("OPTS", "UTF8 ON");
  await control.expect(
    "TYPE",
    settings.transferType === "ascii" ? "A" : "I",
    "Setting the transfer type",
  );
  const mlst = feat.map.has("MLST") && settings.list !== "list";
  // list=mlsd: MLSD even where FEAT does not say so, and no falling back to LIST.
  const mlsd = settings.list === "mlsd" || (mlst && settings.list === "auto");
  if (mlst) await control.request("OPTS", "MLST type;size;modify;");
  const pwd = await control.expect("PWD", undefined, "Asking for the login directory (PWD)");
  const loginDir = parse257(pwd.message) ?? (settings.path.startsWith("/") ? "/" : undefined);
  if (loginDir === undefined) {
    throw new StorageError(
      "PROTOCOL",
      `Reading the login directory failed: cannot parse ${JSON.stringify(pwd.message)}. Set path to an absolute path.`,
    );
  }
  const root = resolveRoot(loginDir, settings.path);
  let siteHelp: string | undefined;
  const siteInFeat = feat.lines.some((line) => /^SITE\s+UTIME\b/i.test(line));
  if (!feat.map.has("MFMT") && !quirks.mdtmWrite && !siteInFeat) {
    const help = await control.request("SITE", "HELP");
    if (help.code < 300) siteHelp = help.message;
  }
  const data: DataContext = {
    settings,
    control,
    connectTimeoutMs: (settings.connectTimeout ?? 30) * 1000,
    tls: settings.protectData ? policy : undefined,
    controlFingerprint: fingerprint,
    epsvRefused: false,
    lastSessionReused: undefined,
  };
  const session: Session = {
    id: control.id,
    settings,
    control,
    data,
    kind,
    quirks,
    feat,
    root,
    info: {
      protocol: settings.tls === "none" ? "ftp" : "ftps",
      banner: banner.replace(/^220[ -]/gm, "").trim(),
      features: feat.lines,
      ...(tlsInfo === undefined ? {} : { tls: tlsInfo }),
      ...(fingerprint === undefined ? {} : { fingerprint }),
      root,
      notes: [
        `server: ${kind}`,
        `login directory: ${loginDir}`,
        `listing: ${mlsd ? "MLSD" : "LIST"}`,
        `encoding: ${control.codec.name}`,
        ...(settings.clearControl ? ["control channel: clear text after login (CCC)"] : []),
        ...(settings.tlsTrust === "insecure"
          ? ["TLS certificate NOT verified (tlsTrust=insecure)"]
          : []),
      ],
    },
    mlst,
    mlsd,
    listDashA: settings.listHidden === "auto" ? quirks.listNeedsDashA : settings.listHidden,
    mtimeMethods: mtimeMethods(feat, quirks, siteHelp),
    avbl: undefined,
    dead: undefined,
    idleMs: settings.idleTimeout * 1000,
    keepAliveMs: settings.keepAlive * 1000,
    noopDuringTransfer: true,
    kill(reason: string) {
      if (session.dead !== undefined) return;
      session.dead = reason;
      control.note(`giving up this connection: ${reason}`);
      control.fail(new StorageError("CONNECTION", `The FTP connection was closed: ${reason}.`));
    },
  };
  const connection = new FtpConnection(session, {
    atomicReplace: quirks.atomicReplace,
    setMtime: session.mtimeMethods.length > 0,
    freeSpace: feat.map.has("AVBL"),
    rangedRead: settings.transferType === "binary" && (feat.map.has("REST") || kind !== "unknown"),
    ...(quirks.listLimit === undefined ? {} : { listLimit: quirks.listLimit }),
  });
  control.note(`logged in; root ${root}; server ${kind}`);
  return connection;
}
