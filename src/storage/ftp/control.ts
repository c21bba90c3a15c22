/**
 * The control connection: basic-ftp's FTPContext (socket ownership, reply parsing, one task at
 * a time, control-socket timeout) plus name encoding and the protocol log.
 *
 * FTPContext logs every command it sends (`> …`, PASS already masked) and every chunk it
 * receives (`< …`) through its public `log` method; we route those into the ProtocolLog, so
 * the log shows exactly what crossed the wire, including replies no task was waiting for.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { FTPContext, FTPError, type FTPResponse, type TaskResolver } from "basic-ftp";
import type { ProtocolLog } from "../protocol-log.ts";
import type { NameCodec } from "./encoding.ts";
import { checkPath } from "./paths.ts";
import { replyError, type FtpReply } from "./replies.ts";

/** A reply or a connection-level failure, as a task's handler sees it. */
export type ControlEvent = FtpReply | Error;

export class Control {
  readonly ftp: FTPContext;
  readonly id: number;
  readonly codec: NameCodec;
  readonly #log: ProtocolLog;
  #muted = false;
  #partial = "";

  /** `replyTimeoutMs`: how long a task waits for the server without hearing anything. */
  constructor(id: number, log: ProtocolLog, codec: NameCodec, replyTimeoutMs: number) {
    this.id = id;
    this.#log = log;
    this.codec = codec;
    this.ftp = new FTPContext(replyTimeoutMs, codec.transport);
    this.ftp.log = (message: string) => {
      this.#onLog(message);
    };
  }

  /** Writes a note (`*`) to the protocol log. */
  note(text: string): void {
    this.#log.write(this.id, "*", text);
  }

  #onLog(message: string): void {
    if (this.#muted) return;
    if (message.startsWith("> ")) {
      this.#log.write(this.id, ">", this.codec.fromWire(message.slice(2)));
    } else if (message.startsWith("< ")) {
      // Split into lines on the wire form first: a chunk may end inside a character.
      const lines = (this.#partial + message.slice(2)).split(/\r?\n/);
      this.#partial = lines.pop() ?? "";
      for (const line of lines)
        if (line !== "") this.#log.write(this.id, "<", this.codec.fromWire(line));
    }
  }

  /** Hands a (new or upgraded) socket to FTPContext without logging its housekeeping. */
  attach(socket: Socket | TLSSocket): void {
    this.#muted = true;
    try {
      this.ftp.socket = socket;
    } finally {
      this.#muted = false;
    }
  }

  get socket(): Socket | TLSSocket {
    return this.ftp.socket;
  }

  /** True once the context is closed (error, timeout, QUIT) or was never connected. */
  get closed(): boolean {
    return this.ftp.closed;
  }

  /** The wire form of `verb arg`; INVALID for CR/LF/NUL, UNSUPPORTED for unencodable names. */
  line(verb: string, arg?: string): string {
    if (arg === undefined) return verb;
    checkPath(arg, verb);
    return `${verb} ${this.codec.toWire(arg)}`;
  }

  #decode(response: FTPResponse): FtpReply {
    return { code: response.code, message: this.codec.fromWire(response.message) };
  }

  /**
   * Sends `line` (or nothing: waits for the greeting) and passes every reply and failure to
   * `handler` until it settles the task. Replies ≥ 400 arrive as replies, not errors.
   */
  handle<T>(
    line: string | undefined,
    handler: (event: ControlEvent, task: TaskResolver) => void,
  ): Promise<T> {
    return this.ftp.handle(line, (response, task) => {
      if (response instanceof FTPError)
        handler({ code: response.code, message: this.codec.fromWire(response.message) }, task);
      else if (response instanceof Error) handler(response, task);
      else handler(this.#decode(response), task);
    }) as Promise<T>;
  }

  /** Sends a command and resolves with its final reply (code ≥ 200), whatever the code. */
  request(verb: string, arg?: string): Promise<FtpReply> {
    const line = this.line(verb, arg);
    return this.handle<FtpReply>(line, (event, task) => {
      if (event instanceof Error) task.reject(event);
      else if (event.code >= 200) task.resolve(event);
    });
  }

  /**
   * Sends a command and resolves with its reply when `ok(code)`; otherwise rejects with the
   * translated StorageError (`what` names the action, `key` the path).
   */
  async expect(
    verb: string,
    arg: string | undefined,
    what: string,
    ok: (code: number) => boolean = (code) => code >= 200 && code < 300,
    key?: string,
  ): Promise<FtpReply> {
    const reply = await this.request(verb, arg);
    if (!ok(reply.code)) throw replyError(reply, what, key);
    return reply;
  }

  /** Waits for the server's greeting (220; 120 "ready in n minutes" is waited through). */
  greeting(): Promise<FtpReply> {
    return this.handle<FtpReply>(undefined, (event, task) => {
      if (event instanceof Error) task.reject(event);
      else if (event.code >= 200) task.resolve(event);
    });
  }

  /** Sends a command without a task (keep-alive NOOP during a transfer). */
  sendUntracked(verb: string): void {
    this.ftp.send(verb);
  }

  /** Closes with an error: the running task rejects with it, later tasks too. */
  fail(error: Error): void {
    this.ftp.closeWithError(error);
  }

  /** Closes the control connection (FTPContext sends QUIT without waiting, then destroys). */
  close(): void {
    this.#muted = true;
    this.ftp.close();
  }
}
