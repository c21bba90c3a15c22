/** One operation at a time on a connection: FTP has a single control stream. */
export class Serial {
  #queue: Promise<void> = Promise.resolve();
  #busy = 0;

  /** Operations running or waiting. */
  get busy(): number {
    return this.#busy;
  }

  /** Waits for its turn; resolves with the function that ends it (idempotent). */
  acquire(onFree: () => void): Promise<() => void> {
    this.#busy++;
    const previous = this.#queue;
    let free!: () => void;
    this.#queue = new Promise<void>((resolve) => {
      free = resolve;
    });
    let freed = false;
    return previous.then(() => () => {
      if (freed) return;
      freed = true;
      this.#busy--;
      free();
      onFree();
    });
  }
}
