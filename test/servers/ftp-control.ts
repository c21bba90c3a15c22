// A raw FTP control connection for tests of the harness itself (and for anyone who needs to poke
// a test server by hand): plain TCP, implicit TLS, or AUTH TLS upgrade verified against a CA.
import * as net from "node:net";
import * as tls from "node:tls";

/** Minimal FTP control connection: send a command, read one (possibly multi-line) reply. */
export class Control {
  private buf = "";
  private waiters: (() => void)[] = [];
  private closed = false;
  sock: net.Socket;

  constructor(sock: net.Socket) {
    this.sock = sock;
    this.attach(sock);
  }

  private attach(sock: net.Socket): void {
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
    sock.on("error", () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static async connect(port: number, implicit?: { ca: string }): Promise<Control> {
    const sock = implicit
      ? tls.connect({ host: "127.0.0.1", port, ca: implicit.ca })
      : net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      sock.once(implicit ? "secureConnect" : "connect", resolve);
      sock.once("error", reject);
    });
    return new Control(sock);
  }

  async reply(timeoutMs = 5_000): Promise<{ code: number; text: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.buf.split("\r\n");
      const end = lines.findIndex((l, i) => i < lines.length - 1 && /^\d{3} /.test(l));
      if (end >= 0) {
        const text = lines.slice(0, end + 1).join("\n");
        this.buf = lines.slice(end + 1).join("\r\n");
        return {
          code: Number(text.slice(text.lastIndexOf("\n") + 1, text.lastIndexOf("\n") + 4)),
          text,
        };
      }
      if (this.closed) throw new Error(`connection closed; got ${JSON.stringify(this.buf)}`);
      if (Date.now() > deadline) throw new Error(`no reply; got ${JSON.stringify(this.buf)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async send(cmd: string): Promise<{ code: number; text: string }> {
    this.sock.write(cmd + "\r\n");
    return this.reply();
  }

  /** AUTH TLS already answered 234: wrap the socket, verify the server against the CA. */
  async upgrade(ca: string): Promise<tls.TLSSocket> {
    this.sock.removeAllListeners("data");
    this.sock.removeAllListeners("close");
    const secure = tls.connect({ socket: this.sock, host: "127.0.0.1", ca });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    this.sock = secure;
    this.closed = false;
    this.attach(secure);
    return secure;
  }

  /** USER + PASS; throws unless the server answers 331 then 230. */
  async login(user: { name: string; password: string }): Promise<void> {
    const u = await this.send(`USER ${user.name}`);
    if (u.code !== 331) throw new Error(`USER: ${u.text}`);
    const p = await this.send(`PASS ${user.password}`);
    if (p.code !== 230) throw new Error(`PASS: ${p.text}`);
  }

  close(): void {
    this.sock.destroy();
  }
}
