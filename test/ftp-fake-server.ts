/**
 * A scripted FTP server for fault-injection tests of the FTP adapter: plain FTP on 127.0.0.1,
 * an in-memory file tree, passive data connections (EPSV/PASV) and active ones (PORT), and a
 * hook to replace the answer to any command. Commands arrive as latin1 byte-strings, so tests
 * can check the exact bytes a code page produced.
 */
import { once } from "node:events";
import * as net from "node:net";

export interface FakeSession {
  /** Sends one reply line (CRLF added). */
  readonly reply: (line: string) => void;
  /** The data connection of the pending transfer (passive: accepted; active: connected). */
  readonly data: () => Promise<net.Socket>;
  readonly control: net.Socket;
}

/** Return true when the command was answered; anything else gets the default behaviour. */
export type CommandHook = (
  verb: string,
  arg: string,
  session: FakeSession,
) => boolean | Promise<boolean>;

export interface FakeFtpOptions {
  greeting?: string;
  feat?: string[];
  /** PASV names this address instead of 127.0.0.1. */
  pasvAddress?: string;
  hook?: CommandHook;
  /**
   * `queue` (vsftpd, Pure-FTPd): a NOOP sent during a transfer is read after it and answered
   * after the 226. `immediate` (ProFTPD): answered at once, before the 226.
   */
  noopDuringTransfer?: "queue" | "immediate";
}

export interface FakeFtpServer {
  port: number;
  /** Every command line received, in order (latin1 byte-strings). */
  commands: string[];
  files: Map<string, Buffer>;
  dirs: Set<string>;
  close(): Promise<void>;
}

/** Resolves when the socket closed, whatever the reason (`once` would reject on 'error'). */
export function closed(socket: net.Socket): Promise<void> {
  return socket.closed
    ? Promise.resolve()
    : new Promise((resolve) => {
        socket.once("close", () => {
          resolve();
        });
      });
}

const DEFAULT_FEAT = ["EPSV", "PASV", "SIZE", "MDTM", "REST STREAM", "UTF8"];

export async function startFakeFtp(options: FakeFtpOptions = {}): Promise<FakeFtpServer> {
  const commands: string[] = [];
  const files = new Map<string, Buffer>();
  const dirs = new Set(["/", "/home"]);
  const sockets = new Set<net.Socket>();
  const listeners = new Set<net.Server>();
  const server = net.createServer((control) => {
    sockets.add(control);
    control.on("error", () => undefined);
    control.on("close", () => sockets.delete(control));
    let dataSocket: Promise<net.Socket> | undefined;
    let rest = 0;
    let renameFrom = "";
    const session: FakeSession = {
      control,
      reply: (line) => {
        if (!control.destroyed) control.write(`${line}\r\n`, "latin1");
      },
      data: () => dataSocket ?? Promise.reject(new Error("no data connection")),
    };
    const passive = async (): Promise<number> => {
      const listener = net.createServer();
      listeners.add(listener);
      listener.on("close", () => listeners.delete(listener));
      listener.listen(0, "127.0.0.1");
      await once(listener, "listening");
      dataSocket = once(listener, "connection").then(([socket]) => {
        listener.close();
        const s = socket as net.Socket;
        s.on("error", () => undefined);
        sockets.add(s);
        return s;
      });
      return (listener.address() as net.AddressInfo).port;
    };
    const handle = async (verb: string, arg: string): Promise<void> => {
      if (options.hook && (await options.hook(verb, arg, session))) return;
      const r = session.reply;
      switch (verb) {
        case "USER":
          r("331 Password required");
          return;
        case "PASS":
          r("230 Logged in");
          return;
        case "FEAT":
          r(
            `211-Features:\r\n${(options.feat ?? DEFAULT_FEAT).map((f) => ` ${f}`).join("\r\n")}\r\n211 End`,
          );
          return;
        case "SYST":
          r("215 UNIX Type: L8");
          return;
        case "TYPE":
        case "OPTS":
          r("200 OK");
          return;
        case "PWD":
          r('257 "/home" is the current directory');
          return;
        case "NOOP":
          r("200 NOOP ok.");
          return;
        case "QUIT":
          r("221 Goodbye.");
          control.end();
          return;
        case "CWD":
          r(dirs.has(arg) ? "250 OK" : "550 Failed to change directory.");
          return;
        case "EPSV":
          r(`229 Entering Extended Passive Mode (|||${String(await passive())}|)`);
          return;
        case "PASV": {
          const port = await passive();
          const host = (options.pasvAddress ?? "127.0.0.1").split(".").join(",");
          r(`227 Entering Passive Mode (${host},${String(port >> 8)},${String(port & 255)})`);
          return;
        }
        case "PORT": {
          const n = arg.split(",").map(Number);
          const socket = net.connect((n[4] ?? 0) * 256 + (n[5] ?? 0), n.slice(0, 4).join("."));
          socket.on("error", () => undefined);
          sockets.add(socket);
          dataSocket = once(socket, "connect").then(() => socket);
          r("200 PORT command successful.");
          return;
        }
        case "REST":
          rest = Number(arg);
          r(`350 Restart position accepted (${arg}).`);
          return;
        case "RETR": {
          const body = files.get(arg);
          if (body === undefined) {
            r("550 Failed to open file.");
            return;
          }
          r(`150 Opening BINARY mode data connection for ${arg} (${String(body.length)} bytes).`);
          const socket = await session.data();
          socket.end(body.subarray(rest));
          rest = 0;
          await closed(socket);
          r(socket.errored ? "426 Failure writing network stream." : "226 Transfer complete.");
          return;
        }
        case "LIST":
        case "MLSD": {
          r("150 Here comes the directory listing.");
          const socket = await session.data();
          const lines = [...files.entries()].map(
            ([name, body]) =>
              `-rw-r--r--    1 1000     1000     ${String(body.length).padStart(8)} Jan 01 00:00 ${name.slice(name.lastIndexOf("/") + 1)}\r\n`,
          );
          socket.end(Buffer.from(lines.join(""), "latin1"));
          await closed(socket);
          r("226 Directory send OK.");
          return;
        }
        case "STOR": {
          r("150 Ok to send data.");
          const socket = await session.data();
          const chunks: Buffer[] = [];
          socket.on("data", (chunk: Buffer) => chunks.push(chunk));
          await once(socket, "end");
          files.set(arg, Buffer.concat(chunks));
          r("226 Transfer complete.");
          return;
        }
        case "SIZE": {
          const body = files.get(arg);
          r(body === undefined ? "550 Could not get file size." : `213 ${String(body.length)}`);
          return;
        }
        case "MDTM":
          r(files.has(arg) ? "213 20240102030405" : "550 Could not get file modification time.");
          return;
        case "DELE":
          r(
            files.delete(arg) ? "250 Delete operation successful." : "550 Delete operation failed.",
          );
          return;
        case "MKD":
          if (dirs.has(arg)) {
            r("550 Create directory operation failed.");
            return;
          }
          dirs.add(arg);
          r(`257 "${arg}" created`);
          return;
        case "RMD":
          r(
            dirs.delete(arg)
              ? "250 Remove directory operation successful."
              : "550 Remove directory operation failed.",
          );
          return;
        case "RNFR":
          renameFrom = arg;
          r(files.has(arg) ? "350 Ready for RNTO." : "550 RNFR command failed.");
          return;
        case "RNTO": {
          const body = files.get(renameFrom);
          if (body === undefined) {
            r("503 RNFR required first.");
            return;
          }
          files.delete(renameFrom);
          files.set(arg, body);
          r("250 Rename successful.");
          return;
        }
        default:
          r("502 Command not implemented.");
          return;
      }
    };
    let buffer = "";
    let queue = Promise.resolve();
    control.setEncoding("latin1");
    control.on("data", (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        commands.push(line);
        const space = line.indexOf(" ");
        const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
        const arg = space < 0 ? "" : line.slice(space + 1);
        if (verb === "NOOP" && options.noopDuringTransfer === "immediate") {
          session.reply("200 NOOP command successful");
          continue;
        }
        queue = queue.then(() => handle(verb, arg)).catch(() => undefined);
      }
    });
    session.reply(options.greeting ?? "220 fake FTP server ready");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    commands,
    files,
    dirs,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      for (const listener of listeners) listener.close();
      server.close();
      await once(server, "close").catch(() => undefined);
    },
  };
}
