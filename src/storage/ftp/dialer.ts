/**
 * The FTP/FTPS dialer: TCP (connectTcp: proxy, ipFamily), implicit or explicit TLS, greeting,
 * USER/PASS/ACCT, PBSZ/PROT, CCC, FEAT, OPTS UTF8, TYPE, PWD and the backup root. The whole
 * sequence runs under `connectTimeout` (30 s when unset).
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { StorageError } from "../errors.ts";
import { connectTcp } from "../net/connect.ts";
import type { Dialer, ProtocolConnection } from "../protocol.ts";
import type { ProtocolLog } from "../protocol-log.ts";
import type { FtpSettings } from "../settings.ts";
import { TlsCarrier, clearControlChannel, shareLocalPort } from "./ccc.ts";
import { Control } from "./control.ts";
import { createNameCodec, type NameCodec } from "./encoding.ts";
import { replyError, translateFtpError } from "./replies.ts";
import { openSession } from "./session-setup.ts";
import {
  checkControlCertificate,
  createTlsPolicy,
  describeTls,
  startTls,
  type TlsPolicy,
} from "./tls.ts";

/** Connection ids in the protocol log, unique within the process. */
let nextConnectionId = 0;

/** Dials FTP (tls=none) or FTPS (tls=explicit|implicit) connections for one destination. */
export function createFtpDialer(settings: FtpSettings, log: ProtocolLog): Dialer {
  log.addSecret(settings.password);
  log.addSecret(settings.account);
  const codec = createNameCodec(settings.encoding);
  let policy: TlsPolicy | undefined;
  return {
    protocol: settings.tls === "none" ? "ftp" : "ftps",
    dial: () => {
      if (settings.tls !== "none") policy ??= createTlsPolicy(settings);
      return dial(settings, log, codec, policy);
    },
  };
}

interface Login {
  step: string;
  abandoned: boolean;
  raw: Socket | undefined;
}

/** Whether connectTimeout fired (read through a call: it changes while `login` awaits). */
function abandoned(state: Login): boolean {
  return state.abandoned;
}

async function dial(
  settings: FtpSettings,
  log: ProtocolLog,
  codec: NameCodec,
  policy: TlsPolicy | undefined,
): Promise<ProtocolConnection> {
  const id = ++nextConnectionId;
  const connectMs = (settings.connectTimeout ?? 30) * 1000;
  const control = new Control(id, log, codec, settings.idleTimeout * 1000);
  const port = settings.port ?? (settings.tls === "implicit" ? 990 : 21);
  const where = `${settings.host}:${String(port)}`;
  const state: Login = { step: "connecting", abandoned: false, raw: undefined };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      state.abandoned = true;
      const error = new StorageError(
        "TIMEOUT",
        `Connecting to ${where} timed out after ${String(connectMs / 1000)} s while ${state.step}. Check host and port${settings.tls === "implicit" ? " (implicit TLS usually listens on 990)" : ""}, firewalls and tls=${settings.tls}, or raise connectTimeout.`,
      );
      control.fail(error);
      state.raw?.destroy();
      reject(error);
    }, connectMs);
  });
  try {
    const deadline = Date.now() + connectMs;
    return await Promise.race([login(settings, control, policy, state, deadline, where), timedOut]);
  } catch (error) {
    state.abandoned = true;
    control.close();
    state.raw?.destroy();
    throw translateFtpError(error, `Connecting to ${where}`);
  } finally {
    clearTimeout(timer);
  }
}

/** TLS on the control connection; over a carrier when CCC will need the TCP socket back. */
async function secureControl(
  raw: Socket,
  policy: TlsPolicy,
  clearControl: boolean,
): Promise<{ tls: TLSSocket; carrier: TlsCarrier | undefined; fingerprint: string | undefined }> {
  const carrier = clearControl ? new TlsCarrier(raw) : undefined;
  const tls = await startTls(carrier ?? raw, policy, "control connection");
  try {
    const fingerprint = checkControlCertificate(tls, policy);
    if (carrier !== undefined) shareLocalPort(tls, raw);
    return { tls, carrier, fingerprint };
  } catch (error) {
    tls.destroy();
    throw error;
  }
}

async function authenticate(settings: FtpSettings, control: Control, where: string): Promise<void> {
  const what = `Logging in to ${where}`;
  const user = settings.anonymous ? "anonymous" : (settings.user ?? "anonymous");
  let reply = await control.request("USER", user);
  if (reply.code === 331) {
    const password = settings.password ?? (settings.anonymous ? "anonymous@" : "");
    reply = await control.request("PASS", password);
  }
  if (reply.code === 332) {
    if (settings.account === undefined) {
      throw new StorageError(
        "AUTH",
        `${what} failed: the server asks for an account (332). Set account=<account>.`,
      );
    }
    reply = await control.request("ACCT", settings.account);
  }
  if (reply.code !== 230 && reply.code !== 202) throw replyError(reply, what);
}

async function login(
  settings: FtpSettings,
  control: Control,
  policy: TlsPolicy | undefined,
  state: Login,
  deadline: number,
  where: string,
): Promise<ProtocolConnection> {
  control.note(
    `connecting to ${where}${settings.proxy === undefined ? "" : " through the proxy"} (tls=${settings.tls})`,
  );
  state.step = "opening the TCP connection";
  const raw = await connectTcp({
    host: settings.host,
    port: Number(where.slice(where.lastIndexOf(":") + 1)),
    ipFamily: settings.ipFamily,
    proxy: settings.proxy,
    timeoutMs: Math.max(1, deadline - Date.now()),
    purpose: "control connection",
  });
  state.raw = raw;
  if (abandoned(state)) throw new StorageError("TIMEOUT", `Connecting to ${where} timed out.`);
  let secured: Awaited<ReturnType<typeof secureControl>> | undefined;
  if (settings.tls === "implicit" && policy !== undefined) {
    state.step = "the TLS handshake (implicit TLS)";
    secured = await secureControl(raw, policy, settings.clearControl);
    control.attach(secured.tls);
    secured.carrier?.listen();
  } else {
    control.attach(raw);
  }
  state.step = "waiting for the greeting";
  const greeting = await control.greeting();
  if (greeting.code !== 220) throw replyError(greeting, `Connecting to ${where}`);
  if (settings.tls === "explicit" && policy !== undefined) {
    state.step = "AUTH TLS";
    const auth = await control.request("AUTH", "TLS");
    if (auth.code !== 234) {
      throw new StorageError(
        "TLS",
        `${replyError(auth, `Starting TLS with ${where} (AUTH TLS)`).message.replace(/\.[^.]*$/, ".")} The server offers no explicit TLS: try tls=implicit (usually port 990), or tls=none.`,
      );
    }
    state.step = "the TLS handshake";
    // FTPContext must stop reading the TCP socket before TLS takes it over.
    if (settings.clearControl) raw.removeAllListeners();
    secured = await secureControl(raw, policy, settings.clearControl);
    control.attach(secured.tls);
    secured.carrier?.listen();
  }
  state.step = "logging in";
  await authenticate(settings, control, where);
  const tlsInfo = secured === undefined ? undefined : describeTls(secured.tls);
  if (secured !== undefined) {
    state.step = "setting up protection (PBSZ/PROT)";
    await control.expect("PBSZ", "0", "Setting up TLS protection (PBSZ 0)");
    const prot = settings.protectData ? "P" : "C";
    const reply = await control.request("PROT", prot);
    if (reply.code !== 200) {
      const error = replyError(reply, `Setting data protection (PROT ${prot})`);
      throw new StorageError(
        "TLS",
        `${error.message} Set protectData=${settings.protectData ? "false" : "true"} if the server insists.`,
        { cause: error.cause },
      );
    }
    if (settings.clearControl) {
      state.step = "clearing the control channel (CCC)";
      if (secured.carrier === undefined)
        throw new StorageError("TLS", "CCC needs the TLS carrier.");
      await clearControlChannel(control, secured.tls, secured.carrier);
    }
  }
  state.step = "reading the server's features";
  const connection = await openSession(
    settings,
    control,
    policy,
    greeting.message,
    secured?.fingerprint,
    tlsInfo,
  );
  if (abandoned(state)) {
    // connectTimeout fired meanwhile; the caller has its TIMEOUT already.
    await connection.close();
    throw new StorageError("TIMEOUT", `Connecting to ${where} timed out.`);
  }
  return connection;
}
