/**
 * Connection pool: up to `max` connections of one destination, reused. An idle connection is
 * checked before reuse and redialled if dead. A server that refuses a connection because of a
 * connection limit (421 Too many connections → LIMIT) lowers the pool's limit instead of failing
 * the operation: the caller waits for a connection already open.
 */
import { StorageError, isRetriable, isStorageError } from "./errors.ts";
import type { Dialer, ProtocolConnection } from "./protocol.ts";
import type { ProtocolLog } from "./protocol-log.ts";

export interface PoolOptions {
  /** Connections at most at once; 0 = unlimited. */
  max: number;
  /** A connection idle longer than this is checked with `alive()` before reuse [5000 ms]. */
  checkAfterMs?: number;
  log: ProtocolLog;
}

interface Idle {
  connection: ProtocolConnection;
  since: number;
}

export class ConnectionPool {
  readonly #dialer: Dialer;
  readonly #log: ProtocolLog;
  readonly #checkAfterMs: number;
  #limit: number;
  #open = 0;
  #idle: Idle[] = [];
  #waiters: ((connection: ProtocolConnection | undefined) => void)[] = [];
  #closed = false;

  constructor(dialer: Dialer, options: PoolOptions) {
    this.#dialer = dialer;
    this.#log = options.log;
    this.#limit = options.max === 0 ? Number.POSITIVE_INFINITY : options.max;
    this.#checkAfterMs = options.checkAfterMs ?? 5000;
  }

  /** The current limit (lowered at run time by LIMIT replies); 0 means unlimited. */
  get limit(): number {
    return Number.isFinite(this.#limit) ? this.#limit : 0;
  }

  /** Connections open now, busy or idle. */
  get open(): number {
    return this.#open;
  }

  /** Runs `task` on a pooled connection; a connection that failed in a retriable way is dropped. */
  async use<T>(task: (connection: ProtocolConnection) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      const result = await task(connection);
      this.release(connection, false);
      return result;
    } catch (error) {
      this.release(connection, isRetriable(error) || isStorageError(error, "TIMEOUT"));
      throw error;
    }
  }

  /** A connection for exclusive use until {@link release}. */
  async acquire(): Promise<ProtocolConnection> {
    for (;;) {
      if (this.#closed) throw closedError();
      const idle = this.#idle.pop();
      if (idle) {
        if (Date.now() - idle.since < this.#checkAfterMs || (await idle.connection.alive())) {
          return idle.connection;
        }
        this.#log.write(idle.connection.id, "*", "idle connection is dead; redialling");
        this.#discard(idle.connection);
        continue;
      }
      if (this.#open < this.#limit) {
        this.#open++;
        try {
          return await this.#dialer.dial();
        } catch (error) {
          this.#open--;
          this.#wakeOne(undefined);
          if (isStorageError(error, "LIMIT") && this.#open > 0) {
            this.#lowerLimit(error);
            continue;
          }
          throw error;
        }
      }
      const connection = await new Promise<ProtocolConnection | undefined>((resolve) => {
        this.#waiters.push(resolve);
      });
      if (connection) return connection;
    }
  }

  /** Gives a connection back; `broken` closes it instead of keeping it for reuse. */
  release(connection: ProtocolConnection, broken: boolean): void {
    if (broken || this.#closed || this.#open > this.#limit) {
      this.#discard(connection);
      this.#wakeOne(undefined);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(connection);
    else this.#idle.push({ connection, since: Date.now() });
  }

  /** Closes idle connections now and busy ones as they are released. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    this.#open -= idle.length;
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    await Promise.all(idle.map(({ connection }) => connection.close()));
  }

  #lowerLimit(error: StorageError): void {
    const lowered = Math.max(1, this.#open);
    if (lowered < this.#limit) {
      this.#limit = lowered;
      this.#log.write(
        0,
        "*",
        `server refused another connection (${error.message}); using at most ${String(lowered)} from now on`,
      );
    }
  }

  #discard(connection: ProtocolConnection): void {
    this.#open--;
    void connection.close();
  }

  /** A slot freed: let one waiter dial (it re-enters the loop with `undefined`). */
  #wakeOne(connection: ProtocolConnection | undefined): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(connection);
  }
}

function closedError(): StorageError {
  return new StorageError("CONNECTION", "The storage was closed; open it again to continue.", {
    retriable: false,
  });
}
