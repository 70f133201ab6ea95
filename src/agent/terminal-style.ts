/**
 * What the terminal can show: colour, and the marks ✓ ✗ … or their ASCII
 * stand-ins. Decided once per run from the environment, the platform and
 * (on Windows) the console's code page; pure functions apart from that one
 * query, so every case is a table test.
 */
import type { RunCommand } from './windows-acl.ts';

export interface TerminalStyle {
  /** ANSI colour on stdout / stderr. */
  readonly color: { readonly stdout: boolean; readonly stderr: boolean };
  readonly marks: Marks;
}

export interface Marks {
  readonly ok: string;
  readonly fail: string;
  readonly busy: string;
}

export const UNICODE_MARKS: Marks = { ok: '\u2713', fail: '\u2717', busy: '\u2026' };
export const ASCII_MARKS: Marks = { ok: 'v', fail: 'x', busy: '...' };

/** What the style is decided from; cli.ts passes its deps. */
export interface TerminalFacts {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly platform: NodeJS.Platform;
  readonly runCommand: RunCommand;
}

/**
 * Colour on a terminal only: never when NO_COLOR is set to anything but
 * the empty string (https://no-color.org), never on TERM=dumb.
 */
export function wantsColor(env: TerminalFacts['env'], isTTY: boolean): boolean {
  if (!isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}

/**
 * Whether ✓ ✗ … can be shown. Windows: only when the console's output
 * code page is UTF-8 (65001); a legacy code page (437, 850, 1252...) shows
 * them as `?`. Elsewhere: when the locale that decides the character type
 * (LC_ALL, then LC_CTYPE, then LANG; none set means "C") is UTF-8.
 */
export function canShowUnicode(
  platform: NodeJS.Platform,
  env: TerminalFacts['env'],
  codePage: number | null,
): boolean {
  if (platform === 'win32') return codePage === 65001;
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || 'C';
  return /\.utf-?8\b/i.test(locale) || /^utf-?8$/i.test(locale);
}

/** The number in `chcp`'s answer ("Active code page: 65001", "Aktive Codepage: 850."). */
export function parseCodePage(chcpOutput: string): number | null {
  const m = /(\d+)\s*\.?\s*$/.exec(chcpOutput.trim());
  return m ? Number(m[1]) : null;
}

/** Asks the console for its code page; null when it cannot be learned. */
export function consoleCodePage(run: RunCommand): number | null {
  try {
    const r = run('cmd.exe', ['/d', '/c', 'chcp']);
    return r.code === 0 ? parseCodePage(r.stdout) : null;
  } catch {
    return null;
  }
}

/** The style for a terminal run: colour per stream, marks for the console. */
export function terminalStyle(
  facts: TerminalFacts,
  isTTY: { readonly stdout: boolean; readonly stderr: boolean },
): TerminalStyle {
  const codePage = facts.platform === 'win32' ? consoleCodePage(facts.runCommand) : null;
  return {
    color: {
      stdout: wantsColor(facts.env, isTTY.stdout),
      stderr: wantsColor(facts.env, isTTY.stderr),
    },
    marks: canShowUnicode(facts.platform, facts.env, codePage) ? UNICODE_MARKS : ASCII_MARKS,
  };
}
