/**
 * CCC (RFC 4217 §12.3, `clearControl`): after login the control connection drops back to clear
 * text — for firewalls/NATs that must read PORT/PASV — while data stays protected.
 *
 * Node cannot unwrap a TLS socket that sits directly on a TCP handle, so with clearControl the
 * control TLS runs over a {@link TlsCarrier}: a Duplex that relays TLS records to and from the
 * TCP socket and can let go of it. After `200` to CCC both sides send close_notify; then the
 * carrier detaches and FTPContext gets the plain TCP socket back.
 */
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { StorageError } from "../errors.ts";
import type { Control } from "./control.ts";
import { replyError } from "./replies.ts";

/** Relays bytes between a TLS socket (reading/writing this Duplex) and a TCP socket. */
export class TlsCarrier extends Duplex {
  readonly raw: Socket;
  #attached = false;
  readonly #onData = (chunk: Buffer | string) => {
    // FTPContext set the socket's encoding to latin1 (byte-transparent): undo it for TLS.
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
    if (!this.push(bytes)) this.raw.pause();
  };
  readonly #onEnd = () => {
    this.push(null);
  };
  readonly #onError = (error: Error) => {
    this.destroy(error);
  };

  constructor(raw: Socket) {
    super();
    this.raw = raw;
    this.listen();
  }

  /** (Re)installs the relay listeners on the TCP socket; FTPContext removes all listeners of a socket it replaces. */
  listen(): void {
    if (this.#attached) this.detach();
    this.#attached = true;
    this.raw.on("data", this.#onData);
    this.raw.on("end", this.#onEnd);
    this.raw.on("error", this.#onError);
    this.raw.resume();
  }

  /** Stops relaying; the TCP socket is paused and left open for its next owner. */
  detach(): void {
    this.#attached = false;
    this.raw.off("data", this.#onData);
    this.raw.off("end", this.#onEnd);
    this.raw.off("error", this.#onError);
    this.raw.pause();
  }

  override _read(): void {
    if (this.#attached) this.raw.resume();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (!this.#attached) {
      callback();
      return;
    }
    this.raw.write(chunk, (error) => {
      callback(error ?? null);
    });
  }

  override _final(callback: () => void): void {
    callback(); // ending TLS must not end TCP
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    if (this.#attached) this.detach();
    callback(error);
  }
}

/**
 * Makes a TLS socket that runs over a carrier look like an upgrade of the TCP socket to
 * FTPContext (same local port), so swapping one for the other never closes either.
 */
export function shareLocalPort(tls: TLSSocket, raw: Socket): void {
  Object.defineProperty(tls, "localPort", { get: () => raw.localPort, configurable: true });
}

/** Sends CCC and, on `200`, continues in clear text on the TCP socket under the carrier. */
export async function clearControlChannel(
  control: Control,
  tls: TLSSocket,
  carrier: TlsCarrier,
): Promise<void> {
  const session = control.ftp.tlsSessionStore;
  let serverClosed!: Promise<void>;
  await control.handle<undefined>("CCC", (event, task) => {
    if (event instanceof Error) {
      task.reject(event);
      return;
    }
    if (event.code < 200) return;
    if (event.code !== 200) {
      task.reject(
        new StorageError(
          "TLS",
          `${replyError(event, "Clearing the control channel (CCC)").message.replace(/\.[^.]*$/, ".")} The server does not allow CCC: set clearControl=false.`,
        ),
      );
      return;
    }
    // Synchronously, before the server's close_notify turns into 'end' and FTPContext reads
    // that as the server hanging up: take the TLS socket away from FTPContext.
    tls.removeAllListeners();
    tls.on("error", () => undefined);
    serverClosed = new Promise<void>((resolve) => {
      tls.once("end", resolve);
      tls.once("close", resolve);
      setTimeout(resolve, 1_000).unref();
    });
    task.resolve(undefined);
  });
  tls.end(); // our close_notify
  await serverClosed;
  carrier.detach();
  control.attach(carrier.raw);
  control.ftp.tlsSessionStore = session; // data connections still resume the TLS session
  carrier.raw.resume();
  tls.destroy();
  control.note("control channel is clear text now (CCC); data connections stay protected");
}
