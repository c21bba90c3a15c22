/**
 * Small queues of the data phase: bytes received from a pack but not consumed yet, and writes in
 * flight bounded by weight.
 */

/** Received bytes not consumed yet, kept as the parts they arrived in. */
export class ByteQueue {
  readonly #parts: Buffer[] = [];
  length = 0;

  push(part: Buffer): void {
    if (part.length === 0) return;
    this.#parts.push(part);
    this.length += part.length;
  }

  skip(n: number): void {
    this.take(n);
  }

  take(n: number): Buffer {
    const head = this.#parts[0];
    if (head !== undefined && head.length >= n) {
      this.#consume(n);
      return head.subarray(0, n);
    }
    // Its own memory (never the shared pool), so it can be moved to a worker without a copy.
    const out = Buffer.allocUnsafeSlow(n);
    let filled = 0;
    while (filled < n) {
      const part = this.#parts[0] as Buffer;
      const used = Math.min(part.length, n - filled);
      out.set(part.subarray(0, used), filled);
      filled += used;
      this.#consume(used);
    }
    return out;
  }

  #consume(n: number): void {
    const head = this.#parts[0] as Buffer;
    if (n >= head.length) this.#parts.shift();
    else this.#parts[0] = head.subarray(n);
    this.length -= n;
  }
}

/** Writes in flight with their weight; the first failure is kept and rethrown. */
export class InFlight {
  readonly #pending = new Set<Promise<void>>();
  #weight = 0;
  #failure: { error: unknown } | undefined;

  add(work: Promise<void>, weight: number): void {
    this.#weight += weight;
    const tracked: Promise<void> = work
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => {
        this.#weight -= weight;
        this.#pending.delete(tracked);
      });
    this.#pending.add(tracked);
  }

  /** Waits until no more than `weight` and `count` are in flight; throws a failure seen. */
  async below(weight: number, count: number): Promise<void> {
    while (this.#pending.size > 0 && (this.#weight > weight || this.#pending.size > count)) {
      await Promise.race(this.#pending);
    }
    this.#throwIfFailed();
  }

  /** Waits for everything in flight; throws a failure seen. */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.race(this.#pending);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }
}
