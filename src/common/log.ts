/**
 * Logs as data: `log.info('route.probe', { route, ms })`. Winston writes
 * JSON lines; a redaction format on every transport scrubs sensitive keys
 * and any registered sensitive value, as a second line of defence behind
 * the rule that secrets never reach a log call.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';

import type { LogLevel } from './log-levels.ts';

export { LOG_LEVELS } from './log-levels.ts';
export type { LogLevel } from './log-levels.ts';

export interface Logger {
  error(event: string, data?: Record<string, unknown>): void;
  warn(event: string, data?: Record<string, unknown>): void;
  info(event: string, data?: Record<string, unknown>): void;
  debug(event: string, data?: Record<string, unknown>): void;
  /** Registers a value that must be scrubbed wherever it appears. */
  addSensitive(value: string): void;
  /** Flushes and closes the transports. */
  close(): Promise<void>;
}

// Keys that hold a secret by name (not secretId, secretSource, secretRequired).
const SENSITIVE_KEY =
  /(secret|password|passphrase|token|prs|authorization|credential|privatekey)$/i;
const REDACTED = '[redacted]';

function scrub(value: unknown, sensitive: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') {
    let out = value;
    for (const s of sensitive)
      if (s.length > 0 && out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return {
      name: value.name,
      message: scrub(value.message, sensitive),
      stack: scrub(value.stack, sensitive),
      code: (value as { code?: unknown }).code,
    };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, sensitive, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SENSITIVE_KEY.test(k) && typeof v !== 'boolean' && typeof v !== 'number'
        ? REDACTED
        : scrub(v, sensitive, depth + 1);
  }
  return out;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** JSON-lines log file, rotated by size. */
  readonly file?: string;
  /** Where plain human lines go (a server's stderr), if anywhere. */
  readonly console?: NodeJS.WritableStream;
  readonly consoleLevel?: LogLevel;
  readonly component: string;
}

/** Builds a logger; the log file's directory is created. */
export function createLogger(opts: LoggerOptions): Logger {
  const sensitive: string[] = [];
  const redact = winston.format((info) => {
    const clean = scrub({ ...info }, sensitive) as Record<string, unknown>;
    for (const key of Object.keys(info))
      if (!(key in clean)) delete (info as Record<string, unknown>)[key];
    Object.assign(info, clean);
    return info;
  });
  const transports: winston.transport[] = [];
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true, mode: 0o700 });
    transports.push(
      new winston.transports.File({
        filename: opts.file,
        maxsize: 5 * 1024 * 1024,
        maxFiles: 5,
        tailable: true,
        options: { mode: 0o600 },
        format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
      }),
    );
  }
  if (opts.console) {
    transports.push(
      new winston.transports.Stream({
        stream: opts.console,
        level: opts.consoleLevel ?? opts.level,
        format: winston.format.combine(
          redact(),
          winston.format.printf((info) => {
            const { level, message, component: _c, ...rest } = info as Record<string, unknown>;
            const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return `${String(level)} ${String(message)}${extra}`;
          }),
        ),
      }),
    );
  }
  const logger = winston.createLogger({
    level: opts.level,
    defaultMeta: { component: opts.component },
    transports: transports.length
      ? transports
      : [new winston.transports.Stream({ stream: nullStream(), silent: true })],
  });
  // Connections torn down during shutdown still report; after close() that is dropped, not "write after end".
  let closed = false;
  const emit = (level: LogLevel) => (event: string, data?: Record<string, unknown>) => {
    if (!closed) logger.log(level, event, data ?? {});
  };
  return {
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    addSensitive: (value) => void sensitive.push(value),
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        const files = transports.filter((t) => t instanceof winston.transports.File);
        if (files.length === 0) {
          logger.close();
          resolve();
          return;
        }
        let pending = files.length;
        for (const t of files) t.once('finish', () => (--pending === 0 ? resolve() : undefined));
        logger.end();
      }),
  };
}

function nullStream(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** A logger that drops everything, for tests and library callers. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  addSensitive: () => undefined,
  close: () => Promise.resolve(),
};
