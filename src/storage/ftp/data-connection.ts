/**
 * Data connections: passive (EPSV/PASV through connectTcp, so proxies, ipFamily and the connect
 * timeout apply) or active (PORT/EPRT with a listener that accepts only the control peer), and
 * TLS on top when data is protected (PROT P), resuming the control connection's TLS session.
 */
import { createServer, isIP, type Server, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { StorageError } from "../errors.ts";
import { connectTcp } from "../net/connect.ts";
import type { FtpSettings } from "../settings.ts";
import type { Control } from "./control.ts";
import {
  chooseDataHost,
  formatEprtArgument,
  formatPortArgument,
  parseEpsvReply,
  parsePasvReply,
  plainAddress,
} from "./data-address.ts";
import { replyError } from "./replies.ts";
import { checkDataCertificate, startTls, type TlsPolicy } from "./tls.ts";

/** What data connections of one control connection share. */
export interface DataContext {
  readonly settings: FtpSettings;
  readonly control: Control;
  readonly connectTimeoutMs: number;
  /** Set while data connections are protected (PROT P). */
  tls: TlsPolicy | undefined;
  controlFingerprint: string | undefined;
  /** Learned: EPSV refused, use PASV from now on (passiveCommand=auto). */
  epsvRefused: boolean;
  /** Whether the last protected data connection resumed the control session. */
  lastSessionReused: boolean | undefined;
}

/** A data connection being set up; `ready()` after the transfer command was sent. */
export interface PendingData {
  /** The connected (and, with PROT P, secured) data socket. */
  ready(): Promise<Socket | TLSSocket>;
  /** Destroys whatever is still open. Idempotent. */
  close(): void;
}

/** Prepares a data connection the way the settings say (passive or active). */
export function openData(ctx: DataContext): Promise<PendingData> {
  return ctx.settings.passive ? openPassive(ctx) : openActive(ctx);
}

/** The address data connections go to: the control peer, or through a proxy the host setting. */
function controlPeer(ctx: DataContext): string {
  if (ctx.settings.proxy !== undefined) return ctx.settings.host;
  return plainAddress(ctx.control.socket.remoteAddress ?? ctx.settings.host);
}

function isIpv6Control(ctx: DataContext): boolean {
  return (
    ctx.settings.proxy === undefined &&
    ctx.control.socket.remoteFamily === "IPv6" &&
    !/^::ffff:/i.test(ctx.control.socket.remoteAddress ?? "")
  );
}

async function passiveTarget(ctx: DataContext): Promise<{ host: string; port: number }> {
  const { passiveCommand } = ctx.settings;
  const useEpsv = passiveCommand === "epsv" || (passiveCommand === "auto" && !ctx.epsvRefused);
  if (useEpsv) {
    const reply = await ctx.control.request("EPSV");
    const port = reply.code === 229 ? parseEpsvReply(reply.message) : undefined;
    if (port !== undefined) return { host: controlPeer(ctx), port };
    if (passiveCommand === "epsv" || isIpv6Control(ctx) || reply.code < 500) {
      throw replyError(reply, "Opening a data connection (EPSV)");
    }
    ctx.epsvRefused = true;
    ctx.control.note("EPSV refused; using PASV from now on");
  }
  if (isIpv6Control(ctx)) {
    throw new StorageError(
      "INVALID",
      "Opening a data connection failed: PASV cannot work over IPv6. Set passiveCommand=epsv (or auto).",
    );
  }
  const reply = await ctx.control.request("PASV");
  const named = reply.code === 227 ? parsePasvReply(reply.message) : undefined;
  if (named === undefined) throw replyError(reply, "Opening a data connection (PASV)");
  const choice = chooseDataHost(named.host, controlPeer(ctx), ctx.settings);
  if (choice.note !== undefined) ctx.control.note(choice.note);
  return { host: choice.host, port: named.port };
}

async function openPassive(ctx: DataContext): Promise<PendingData> {
  const target = await passiveTarget(ctx);
  const raw = await connectTcp({
    host: target.host,
    port: target.port,
    ipFamily: ctx.settings.ipFamily,
    proxy: ctx.settings.proxy,
    timeoutMs: ctx.connectTimeoutMs,
    purpose: "data connection",
  });
  raw.on("error", () => undefined); // observed through the transfer; never crash
  let socket: Socket | TLSSocket = raw;
  // With PROT P the handshake starts now; the server answers it once the command arrives.
  const secured =
    ctx.tls === undefined
      ? Promise.resolve(raw)
      : secure(ctx, raw, ctx.tls).then((tls) => (socket = tls));
  secured.catch(() => undefined);
  return {
    ready: () => secured,
    close: () => {
      socket.destroy();
      raw.destroy();
    },
  };
}

async function secure(ctx: DataContext, raw: Socket, policy: TlsPolicy): Promise<TLSSocket> {
  const session = ctx.settings.tlsSessionReuse ? sessionOf(ctx) : undefined;
  const tls = await startTls(raw, policy, "data connection", session);
  tls.on("session", (next: Buffer) => {
    // TLS 1.3 tickets may be single-use: resume the next data connection with the newest.
    ctx.control.ftp.tlsSessionStore = next;
  });
  try {
    checkDataCertificate(tls, policy, ctx.controlFingerprint);
  } catch (error) {
    tls.destroy();
    throw error;
  }
  ctx.lastSessionReused = tls.isSessionReused();
  ctx.control.note(
    `data connection: ${tls.getProtocol() ?? "TLS"}, session ${ctx.lastSessionReused ? "resumed" : "NOT resumed"}`,
  );
  return tls;
}

function sessionOf(ctx: DataContext): Buffer | undefined {
  const store = ctx.control.ftp.tlsSessionStore;
  if (store !== undefined) return store;
  const control = ctx.control.socket as Partial<TLSSocket>;
  return typeof control.getSession === "function" ? control.getSession() : undefined;
}

const ACTIVE_PROXY_ERROR =
  "Active mode (passive=false) cannot work through a proxy: the server would have to connect back to this machine, which a proxy does not relay. Set passive=true or remove the proxy setting.";

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off("listening", onListening);
      reject(error);
    };
    const onListening = () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host, port, exclusive: true });
  });
}

/** The errno code (`EADDRNOTAVAIL`, …) of a failed bind, also through the StorageError wrapping it. */
function bindErrno(error: unknown): string | undefined {
  const raw = error instanceof StorageError ? error.cause : error;
  const code = (raw as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Binds a listener on `host` within `activePorts` (random start, then upwards, wrapping), or on
 * any free port without a range. A failure is a CONNECTION error whose `cause` is the bind error.
 */
async function bindListener(
  server: Server,
  host: string,
  range: [number, number] | undefined,
): Promise<number> {
  if (range === undefined) {
    try {
      return await listen(server, host, 0);
    } catch (error) {
      throw new StorageError(
        "CONNECTION",
        `Listening for an active-mode data connection on ${host} failed: ${(error as Error).message}. Set activeAddress to an address of this machine (or the NAT's public address), or set passive=true.`,
        { cause: error, ...(bindErrno(error) === "EADDRNOTAVAIL" ? { retriable: false } : {}) },
      );
    }
  }
  const [low, high] = range;
  const span = high - low + 1;
  const start = Math.floor(Math.random() * span);
  let last: unknown;
  for (let i = 0; i < span; i++) {
    try {
      return await listen(server, host, low + ((start + i) % span));
    } catch (error) {
      last = error;
      if (bindErrno(error) !== "EADDRINUSE") break;
    }
  }
  throw new StorageError(
    "CONNECTION",
    `Listening for an active-mode data connection on ${host} ports ${String(low)}-${String(high)} failed: ${(last as Error).message}. Widen activePorts or set activeAddress.`,
    { cause: last, retriable: false },
  );
}

/**
 * Binds the active-mode listener and returns its port. It binds on the address it announces;
 * when `activeAddress` is not an address of this machine (a NAT's public address: the bind
 * fails with EADDRNOTAVAIL), it binds on the control connection's local address instead, within
 * the same `activePorts`, and the announcement still names `activeAddress`.
 */
async function bindActiveListener(
  server: Server,
  advertised: string,
  local: string,
  range: [number, number] | undefined,
): Promise<{ port: number; boundTo: string }> {
  try {
    return { port: await bindListener(server, advertised, range), boundTo: advertised };
  } catch (error) {
    if (advertised === local || bindErrno(error) !== "EADDRNOTAVAIL") throw error;
    return { port: await bindListener(server, local, range), boundTo: local };
  }
}

async function openActive(ctx: DataContext): Promise<PendingData> {
  if (ctx.settings.proxy !== undefined) throw new StorageError("INVALID", ACTIVE_PROXY_ERROR);
  const control = ctx.control.socket;
  const peer = plainAddress(control.remoteAddress ?? "");
  const local = plainAddress(control.localAddress ?? "");
  const advertised = plainAddress(ctx.settings.activeAddress ?? local);
  if (ctx.settings.activeAddress !== undefined && isIP(advertised) === 0) {
    throw new StorageError(
      "INVALID",
      `activeAddress=${advertised} is not an IP address: PORT and EPRT can only announce an address. Set activeAddress to the public IPv4 or IPv6 address (not a host name).`,
      { retriable: false },
    );
  }
  const server = createServer();
  server.on("error", () => undefined);
  const { port, boundTo } = await bindActiveListener(
    server,
    advertised,
    local,
    ctx.settings.activePorts,
  );
  if (boundTo !== advertised) {
    ctx.control.note(
      `activeAddress ${advertised} is not on this machine: listening on ${boundTo}:${String(port)}, announcing ${advertised}`,
    );
  }
  let accepted: Socket | TLSSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  const connection = new Promise<Socket>((resolve, reject) => {
    timer = setTimeout(() => {
      reject(
        new StorageError(
          "TIMEOUT",
          `The server did not connect back to ${advertised}:${String(port)} for an active-mode transfer within ${String(ctx.connectTimeoutMs / 1000)} s. A firewall or NAT blocks it: set passive=true, or activeAddress=<public address> and activePorts=<forwarded range>.`,
        ),
      );
    }, ctx.connectTimeoutMs);
    server.on("connection", (socket) => {
      const from = plainAddress(socket.remoteAddress ?? "");
      if (from !== peer && !(from.startsWith("127.") && peer.startsWith("127."))) {
        ctx.control.note(
          `refused an active-mode data connection from ${from} (not the server ${peer})`,
        );
        socket.destroy();
        return;
      }
      clearTimeout(timer);
      socket.on("error", () => undefined);
      socket.setNoDelay(true);
      accepted = socket;
      server.close();
      resolve(socket);
    });
  });
  connection.catch(() => undefined);
  const ipv6 = isIP(advertised) === 6;
  const argument = ipv6
    ? formatEprtArgument(advertised, port)
    : formatPortArgument(advertised, port);
  const verb = ipv6 ? "EPRT" : "PORT";
  const close = () => {
    clearTimeout(timer);
    server.close();
    accepted?.destroy();
  };
  try {
    await ctx.control.expect(verb, argument, `Announcing an active-mode data connection (${verb})`);
  } catch (error) {
    close();
    throw error;
  }
  return {
    ready: async () => {
      const socket = await connection;
      if (ctx.tls === undefined) return socket;
      accepted = await secure(ctx, socket, ctx.tls);
      return accepted;
    },
    close,
  };
}
