/**
 * The overall deadline as one AbortSignal. Time spent waiting for a person
 * at the prompt does not count against it.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #now: () => number;
  #at: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number, now: () => number) {
    this.#now = now;
    this.#at = now() + ms;
    this.#arm();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, this.#at - this.#now());
  }

  /** Runs `fn` with the clock stopped. */
  async paused<T>(fn: () => Promise<T>): Promise<T> {
    clearTimeout(this.#timer);
    const t0 = this.#now();
    try {
      return await fn();
    } finally {
      this.#at += this.#now() - t0;
      this.#arm();
    }
  }

  /** Ends the run now (Ctrl-C): every wait and request on the signal unwinds. */
  abort(reason: string): void {
    clearTimeout(this.#timer);
    this.#controller.abort(new Error(reason));
  }

  dispose(): void {
    clearTimeout(this.#timer);
  }

  #arm(): void {
    if (this.#controller.signal.aborted) return;
    this.#timer = setTimeout(
      () => this.#controller.abort(new Error('deadline')),
      this.remainingMs(),
    );
    this.#timer.unref();
  }
}
