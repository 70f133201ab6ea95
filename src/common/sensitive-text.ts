/**
 * Text that must never be printed, kept light (no crypto) so the command
 * line can hold it before anything heavy is loaded.
 */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export class SensitiveText {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [INSPECT](): string {
    return 'SensitiveText [redacted]';
  }
}
