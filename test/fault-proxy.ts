/**
 * A TCP proxy of the tests' own, placed between a client and a real server, that injects
 * network faults on command: cut or reset a connection after N bytes, stall it after N bytes,
 * throttle it, refuse new connections. node:net only; it listens on 127.0.0.1, port 0.
 *
 * FTP (`{ ftp: true }`): passive data connections go to ports the server names in its 227 (PASV)
 * and 229 (EPSV) replies. The proxy rewrites those replies on its control connections to name a
 * port of its own that forwards to the server's data port, so data connections pass through the
 * proxy too and faults can be aimed at them (`on: "data"`). A test therefore exercises the
 * adapter's real code path: it connects where the server (as far as it can tell) told it to.
 * Limits, stated so nobody relies on more:
 * - Only a plain-text control connection can be rewritten. After `AUTH TLS` (a `234` reply) or on
 *   implicit TLS the control channel is encrypted, the proxy forwards it untouched, and data
 *   connections go straight to the server: with FTPS only control-connection faults are real.
 * - Active mode (PORT/EPRT) is not proxied: the server connects to the client directly.
 * For any other protocol (SFTP) every connection is a `control` connection.
 *
 * Faults count bytes per connection and per direction (`up` = client to server, `down` = server
 * to client), from when the connection opened or the fault was added, whichever is later. A
 * fault hits `times` connections (default 1), then it is spent; `hits(fault)` tells how often it
 * fired, so a test can prove the fault really happened.
 *
 * A cut sends FIN both ways at the exact byte (the server sees what looks like a complete
 * transfer: the case where only a size check catches a truncated upload), then reads and drops
 * what still arrives so that no RST follows. A reset sends RST both ways.
 * A stalled connection forwards nothing more in either direction. It keeps reading (and holding)
 * up to 1 MiB per direction so that it still notices when an end closes, then stops reading, so
 * the sender meets real TCP back-pressure. When one end closes, the other is closed too; close()
 * ends everything.
 */
import { once } from "node:events";
import * as net from "node:net";

/** `up`: client → server; `down`: server → client. */
export type FaultDirection = "up" | "down";

/** Control: connections to the proxy's port. Data: FTP passive data connections. */
export type ConnectionKind = "control" | "data";

export interface Fault {
  /** `cut`: close both sides (FIN); `reset`: reset both sides (RST); `stall`: stop forwarding. */
  action: "cut" | "reset" | "stall";
  direction: FaultDirection;
  /** Bytes forwarded in `direction` before the fault strikes (exactly at that byte). */
  after: number;
  /** Which connections it watches [any]. */
  on?: ConnectionKind | "any";
  /** How many connections it strikes before it is spent [1]. */
  times?: number;
}

export interface FaultRules {
  /** Cuts, resets and stalls; add and remove at any time. */
  faults: Fault[];
  /** Per-connection rate caps in bytes/second, applied to connections of kind `on` [any]. */
  throttle?: { up?: number; down?: number; on?: ConnectionKind | "any" };
  /** The next this-many control connections are accepted and reset at once. */
  refuse: number;
}

export interface FaultProxy {
  readonly host: "127.0.0.1";
  /** Where clients connect instead of the server. */
  readonly port: number;
  /** Connections accepted so far (control and data, refused ones included). */
  readonly connections: number;
  /** Data connections accepted so far (FTP mode). */
  readonly dataConnections: number;
  /** Connection pairs open now. */
  readonly active: number;
  /** The rules, read on every chunk: change them at any time. */
  rules: FaultRules;
  /** What happened, one line per event (`#3 data: cut after 1048576 B up`), for failure output. */
  readonly events: string[];
  /** How many connections `fault` has struck. */
  hits(fault: Fault): number;
  /** When `fault` struck, on the performance.now() clock, one entry per hit. */
  struckAt(fault: Fault): number[];
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Rewrite PASV/EPSV replies on plain-text control connections (see the top of this file). */
  ftp?: boolean;
}

/** Bytes a stalled connection still reads and holds per direction before it stops reading. */
const STALL_HOLD = 1 << 20;
/** A data port named in a rewritten reply waits this long for its one connection. */
const DATA_ACCEPT_MS = 30_000;

/** The pair's state, read through a function so that checks after an await are not narrowed. */
const stateOf = (pair: Pair) => pair.state;
/** A cut pair is destroyed after this long even when an end never closes. */
const CUT_LINGER_MS = 5000;

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

interface Pair {
  id: number;
  kind: ConnectionKind;
  client: net.Socket;
  server: net.Socket;
  /** Bytes counted per fault since this pair first saw it. */
  counted: Map<Fault, number>;
  /**
   * `open` forwards; `stalled` forwards nothing; `cut` has sent FIN both ways and reads and drops
   * whatever still arrives (so no RST follows) until both ends close; `dead` is destroyed.
   */
  state: "open" | "stalled" | "cut" | "dead";
  /** Throttle schedule per direction: when the next byte may leave (performance.now()). */
  nextAt: Record<FaultDirection, number>;
}

export async function startFaultProxy(
  target: { host: string; port: number },
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  const listeners = new Set<net.Server>();
  const hits = new Map<Fault, number>();
  const strikes = new Map<Fault, number[]>();
  const events: string[] = [];
  let nextId = 1;
  let connections = 0;
  let dataConnections = 0;
  let closed = false;

  const proxy: FaultProxy = {
    host: "127.0.0.1",
    port: 0,
    get connections() {
      return connections;
    },
    get dataConnections() {
      return dataConnections;
    },
    get active() {
      return pairs.size;
    },
    rules: { faults: [], refuse: 0 },
    events,
    hits: (fault) => hits.get(fault) ?? 0,
    struckAt: (fault) => [...(strikes.get(fault) ?? [])],
    async close() {
      closed = true;
      for (const pair of pairs) destroyPair(pair);
      await Promise.all(
        [...listeners].map(
          (listener) =>
            new Promise<void>((resolve) => {
              listener.close(() => {
                resolve();
              });
            }),
        ),
      );
    },
  };

  const note = (pair: Pair | undefined, text: string) => {
    events.push(pair ? `#${String(pair.id)} ${pair.kind}: ${text}` : text);
  };

  /** Ends a pair: `cut` sends FIN both ways (destroyed once flushed), `reset` sends RST. */
  function destroyPair(pair: Pair, how: "destroy" | "cut" | "reset" = "destroy"): void {
    if (how === "cut" && pair.state !== "dead") {
      pair.state = "cut";
      pair.client.end();
      pair.server.end();
      setTimeout(() => {
        destroyPair(pair);
      }, CUT_LINGER_MS).unref();
      return;
    }
    pair.state = "dead";
    for (const socket of [pair.client, pair.server]) {
      if (socket.destroyed) continue;
      if (how === "reset") socket.resetAndDestroy();
      else socket.destroy();
    }
  }

  const applies = (on: ConnectionKind | "any" | undefined, kind: ConnectionKind) =>
    on === undefined || on === "any" || on === kind;

  /** The faults still live for this pair and direction. */
  const watching = (pair: Pair, direction: FaultDirection) =>
    proxy.rules.faults.filter(
      (fault) =>
        fault.direction === direction &&
        applies(fault.on, pair.kind) &&
        (hits.get(fault) ?? 0) < (fault.times ?? 1),
    );

  /**
   * How many bytes of a `length`-byte chunk pass before a fault strikes, and which fault strikes
   * (the one whose limit comes first; it strikes as soon as its last byte has passed). Advances
   * the pair's counters by the bytes that pass.
   */
  function admit(pair: Pair, direction: FaultDirection, length: number) {
    let allowed = length;
    let struck: Fault | undefined;
    const live = watching(pair, direction);
    for (const fault of live) {
      const room = Math.max(0, fault.after - (pair.counted.get(fault) ?? 0));
      if (room <= length && (struck === undefined || room < allowed)) {
        allowed = room;
        struck = fault;
      }
    }
    for (const fault of live) pair.counted.set(fault, (pair.counted.get(fault) ?? 0) + allowed);
    return { allowed, struck };
  }

  function strike(pair: Pair, fault: Fault, direction: FaultDirection): void {
    hits.set(fault, (hits.get(fault) ?? 0) + 1);
    strikes.set(fault, [...(strikes.get(fault) ?? []), performance.now()]);
    note(pair, `${fault.action} after ${String(fault.after)} B ${direction}`);
    if (fault.action === "stall") pair.state = "stalled";
    else destroyPair(pair, fault.action);
  }

  /** Waits as the throttle for this pair and direction requires before `bytes` leave. */
  async function pace(pair: Pair, direction: FaultDirection, bytes: number): Promise<void> {
    const throttle = proxy.rules.throttle;
    const rate = throttle && applies(throttle.on, pair.kind) ? throttle[direction] : undefined;
    if (rate === undefined || rate <= 0) return;
    const now = performance.now();
    const start = Math.max(now, pair.nextAt[direction]);
    pair.nextAt[direction] = start + (bytes * 1000) / rate;
    if (start > now) await sleep(start - now);
  }

  /** Writes with back-pressure; false when the pair went away meanwhile. */
  async function send(to: net.Socket, bytes: Buffer): Promise<boolean> {
    if (to.destroyed) return false;
    if (!to.write(bytes)) {
      await Promise.race([once(to, "drain"), once(to, "close")]);
    }
    return !to.destroyed;
  }

  /** Forwards one direction of a pair, applying faults, throttle and (FTP) reply rewriting. */
  async function pump(pair: Pair, direction: FaultDirection): Promise<void> {
    const from = direction === "up" ? pair.client : pair.server;
    const to = direction === "up" ? pair.server : pair.client;
    const rewriter =
      options.ftp && pair.kind === "control" && direction === "down"
        ? new ReplyRewriter()
        : undefined;
    let held = 0;
    try {
      for await (const data of from) {
        if (pair.state === "dead") break;
        if (pair.state === "cut") continue;
        let chunk = data as Buffer;
        if (pair.state === "stalled") {
          held += chunk.length;
          // Stop reading: the sender meets back-pressure; close() or the other end ends it.
          if (held >= STALL_HOLD) await once(from, "close");
          continue;
        }
        if (rewriter) chunk = await rewriter.rewrite(chunk, openDataPort);
        let offset = 0;
        while (offset < chunk.length && stateOf(pair) === "open") {
          const rate = proxy.rules.throttle?.[direction];
          const slice = chunk.subarray(
            offset,
            rate ? offset + Math.max(1024, Math.floor(rate / 20)) : chunk.length,
          );
          const { allowed, struck } = admit(pair, direction, slice.length);
          if (allowed > 0) {
            await pace(pair, direction, allowed);
            if (!(await send(to, slice.subarray(0, allowed)))) break;
          }
          offset += allowed;
          if (struck) strike(pair, struck, direction);
        }
        if (stateOf(pair) === "dead") break;
      }
      // The sender finished: pass the end on (a half-close, as FTP data uploads use). A stalled
      // pair passes nothing on: it closes both ends. A cut pair already ended both.
      const state = stateOf(pair);
      if (state === "open") to.end();
      else if (state === "stalled") destroyPair(pair);
    } catch {
      // An error on one side ends the pair.
      destroyPair(pair);
    }
  }

  function connectPair(
    client: net.Socket,
    kind: ConnectionKind,
    to: { host: string; port: number },
  ): void {
    connections++;
    if (kind === "data") dataConnections++;
    const id = nextId++;
    if (closed) {
      client.destroy();
      return;
    }
    if (kind === "control" && proxy.rules.refuse > 0) {
      proxy.rules.refuse--;
      events.push(`#${String(id)} ${kind}: refused`);
      client.on("error", () => undefined);
      client.resetAndDestroy();
      return;
    }
    const server = net.connect({ host: to.host, port: to.port, allowHalfOpen: true });
    const pair: Pair = {
      id,
      kind,
      client,
      server,
      counted: new Map(),
      state: "open",
      nextAt: { up: 0, down: 0 },
    };
    pairs.add(pair);
    note(pair, `accepted, forwarding to ${to.host}:${String(to.port)}`);
    for (const socket of [client, server]) {
      socket.setNoDelay(true);
      socket.on("error", () => {
        destroyPair(pair);
      });
      socket.on("close", () => {
        // A clean close was already passed on by the pumps (end → end); a stalled pair passes
        // nothing on, so it closes the other end here.
        if (pair.state === "stalled") destroyPair(pair);
        if (client.destroyed && server.destroyed) pairs.delete(pair);
      });
    }
    server.once("connect", () => {
      void pump(pair, "up");
      void pump(pair, "down");
    });
  }

  /** Opens a one-connection listener forwarding to a server's passive data port. */
  async function openDataPort(to: { host: string; port: number }): Promise<number> {
    if (closed) throw new Error("the fault proxy is closed");
    const listener = net.createServer({ allowHalfOpen: true }, (client) => {
      listener.close();
      listeners.delete(listener);
      clearTimeout(timer);
      connectPair(client, "data", to);
    });
    listeners.add(listener);
    listener.listen(0, "127.0.0.1");
    await once(listener, "listening");
    const timer = setTimeout(() => {
      listener.close();
      listeners.delete(listener);
    }, DATA_ACCEPT_MS);
    timer.unref();
    const address = listener.address() as net.AddressInfo;
    return address.port;
  }

  /** Rewrites 227/229 replies so that the client's data connection comes to the proxy. */
  class ReplyRewriter {
    #pending = Buffer.alloc(0);
    /** True once the channel is (or may be) encrypted: forward untouched from then on. */
    #raw = false;
    /** Whether the server's first byte has been seen. */
    #started = false;

    async rewrite(
      chunk: Buffer,
      open: (to: { host: string; port: number }) => Promise<number>,
    ): Promise<Buffer> {
      if (this.#raw) return chunk;
      let input = Buffer.concat([this.#pending, chunk]);
      if (!this.#started && input.length > 0) {
        this.#started = true;
        // The server's first byte is not a reply digit: an implicit TLS handshake. Stop looking.
        const first = input[0] ?? 0;
        if (first < 0x30 || first > 0x39) {
          this.#raw = true;
          this.#pending = Buffer.alloc(0);
          return input;
        }
      }
      const out: Buffer[] = [];
      for (;;) {
        const end = input.indexOf("\n");
        if (end < 0) break;
        const line = input.subarray(0, end + 1).toString("latin1");
        input = input.subarray(end + 1);
        out.push(Buffer.from(await this.#line(line, open), "latin1"));
        if (/^234 /.test(line)) {
          // AUTH TLS accepted: what follows is a TLS handshake.
          this.#raw = true;
          out.push(input);
          input = Buffer.alloc(0);
          break;
        }
      }
      this.#pending = input;
      return Buffer.concat(out);
    }

    async #line(line: string, open: (to: { host: string; port: number }) => Promise<number>) {
      const pasv = /^227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(line);
      if (pasv) {
        const [a, b, c, d, p1, p2] = pasv.slice(1).map(Number) as [
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        const host =
          a === 0 && b === 0 && c === 0 && d === 0
            ? target.host
            : `${String(a)}.${String(b)}.${String(c)}.${String(d)}`;
        const port = await open({ host, port: p1 * 256 + p2 });
        events.push(`PASV ${host}:${String(p1 * 256 + p2)} -> 127.0.0.1:${String(port)}`);
        return `227 Entering Passive Mode (127,0,0,1,${String(port >> 8)},${String(port & 255)}).\r\n`;
      }
      const epsv = /^229 (.*)\(\|\|\|(\d+)\|\)(.*)$/s.exec(line);
      if (epsv) {
        const serverPort = Number(epsv[2]);
        const port = await open({ host: target.host, port: serverPort });
        events.push(`EPSV ${target.host}:${String(serverPort)} -> 127.0.0.1:${String(port)}`);
        return `229 ${epsv[1] ?? ""}(|||${String(port)}|)${epsv[3] ?? ""}`;
      }
      return line;
    }
  }

  const main = net.createServer({ allowHalfOpen: true }, (client) => {
    connectPair(client, "control", target);
  });
  listeners.add(main);
  main.listen(0, "127.0.0.1");
  await once(main, "listening");
  Object.defineProperty(proxy, "port", { value: (main.address() as net.AddressInfo).port });
  return proxy;
}
