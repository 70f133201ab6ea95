/**
 * An expected failure that a person can act on: a stable `code`, a message
 * that says what failed and why, and a hint that says what to do. Anything
 * that is not a UserError is a bug.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}
