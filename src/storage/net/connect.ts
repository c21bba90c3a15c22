/**
 * Opens TCP connections for the FTP and SFTP adapters: address family, connect timeout,
 * HTTP CONNECT and SOCKS 4/5 proxies, Nagle off. The same function serves FTP control and
 * data connections, so a proxy applies to both.
 */
import { connect, type Socket } from "node:net";
import { SocksClient } from "socks";
import { StorageError, fromNodeError } from "../errors.ts";

export interface ConnectOptions {
  host: string;
  port: number;
  ipFamily: "auto" | "ipv4" | "ipv6";
  /** `http://[user:pass@]host:port`, `socks4://host:port`, `socks5://[user:pass@]host:port`. */
  proxy?: string | undefined;
  /** Milliseconds for the TCP (and proxy) handshake. */
  timeoutMs: number;
  /** What the connection is for, used in error messages: "control connection", "data connection". */
  purpose: string;
}

/**
 * Resolves with a connected socket (setNoDelay(true), no timeout left armed), or rejects with a
 * StorageError: CONNECTION (refused, unreachable, proxy refused) or TIMEOUT.
 */
export async function connectTcp(options: ConnectOptions): Promise<Socket> {
  const socket =
    options.proxy === undefined
      ? await connectDirect(options.host, options.port, options)
      : await connectViaProxy(new URL(options.proxy), options);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 30_000);
  return socket;
}

function family(ipFamily: ConnectOptions["ipFamily"]): 0 | 4 | 6 {
  return ipFamily === "ipv4" ? 4 : ipFamily === "ipv6" ? 6 : 0;
}

function target(options: ConnectOptions): string {
  return `${options.host}:${String(options.port)}`;
}

function connectDirect(host: string, port: number, options: ConnectOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      family: family(options.ipFamily),
      autoSelectFamily: true,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new StorageError(
          "TIMEOUT",
          `Opening the ${options.purpose} to ${host}:${String(port)} timed out after ${String(options.timeoutMs / 1000)} s. Check the host, port and firewall, or raise connectTimeout.`,
        ),
      );
    }, options.timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(fromNodeError(error, `Opening the ${options.purpose} to ${host}:${String(port)}`));
    });
  });
}

async function connectViaProxy(proxy: URL, options: ConnectOptions): Promise<Socket> {
  const scheme = proxy.protocol.replace(/:$/, "").toLowerCase();
  const port = Number(proxy.port || (scheme.startsWith("http") ? 8080 : 1080));
  if (scheme === "http" || scheme === "https") return httpConnect(proxy, port, options);
  const type = scheme.startsWith("socks4") ? 4 : 5;
  try {
    const { socket } = await SocksClient.createConnection({
      command: "connect",
      destination: { host: options.host, port: options.port },
      proxy: {
        host: proxy.hostname,
        port,
        type,
        ...(proxy.username ? { userId: decodeURIComponent(proxy.username) } : {}),
        ...(proxy.password ? { password: decodeURIComponent(proxy.password) } : {}),
      },
      timeout: options.timeoutMs,
      set_tcp_nodelay: true,
    });
    return socket;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const timedOut = /timed? ?out/i.test(detail);
    return Promise.reject(
      new StorageError(
        timedOut ? "TIMEOUT" : "CONNECTION",
        `Opening the ${options.purpose} to ${target(options)} through SOCKS${String(type)} proxy ${proxy.hostname}:${String(port)} failed: ${detail}. Check the proxy address and credentials.`,
        { cause: error },
      ),
    );
  }
}

/** HTTP CONNECT tunnel (RFC 9110 §9.3.6); only a 2xx reply opens the tunnel. */
async function httpConnect(proxy: URL, port: number, options: ConnectOptions): Promise<Socket> {
  const socket = await connectDirect(proxy.hostname, port, {
    ...options,
    purpose: `HTTP proxy connection for the ${options.purpose}`,
  });
  const authority = options.host.includes(":")
    ? `[${options.host}]:${String(options.port)}`
    : target(options);
  const auth = proxy.username
    ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}\r\n`
    : "";
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => {
      fail("TIMEOUT", `no answer within ${String(options.timeoutMs / 1000)} s`);
    }, options.timeoutMs);
    const fail = (code: "CONNECTION" | "TIMEOUT", why: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new StorageError(
          code,
          `Opening the ${options.purpose} to ${authority} through HTTP proxy ${proxy.hostname}:${String(port)} failed: ${why}. Check the proxy address, credentials and that it allows CONNECT to this port.`,
        ),
      );
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 16_384) fail("CONNECTION", "the proxy's reply header is too long");
        return;
      }
      socket.off("data", onData);
      socket.off("error", onError);
      // Back to paused mode: bytes after the proxy's header wait for the caller's listener.
      socket.pause();
      const status = /^HTTP\/1\.[01] (\d{3})([^\r]*)/.exec(head.toString("latin1"));
      if (!status?.[1]?.startsWith("2")) {
        fail("CONNECTION", `the proxy answered "${(status?.[0] ?? "no HTTP status").trim()}"`);
        return;
      }
      clearTimeout(timer);
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onError = (error: Error) => {
      fail("CONNECTION", error.message);
    };
    socket.on("data", onData);
    socket.on("error", onError);
  });
}
