/**
 * The agent's options as one declarative list, and the checks yargs does
 * not do well: an option given twice, an unknown option with one
 * did-you-mean suggestion.
 */
import type { Options } from 'yargs';
import { kebabCase } from '../common/cli.ts';
import { UserError } from '../common/errors.ts';
import { nearest } from './suggest.ts';

/**
 * An option given twice is a mistake worth naming (yargs would merge the
 * values), in either case: "--server-id X --serverId Y" is one option twice.
 */
export function refuseRepeatedOptions(argv: readonly string[]): void {
  const seen = new Set<string>();
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--(?:no-)?([A-Za-z][A-Za-z0-9-]*)/.exec(a);
    if (!m) continue;
    const name = kebabCase(m[1] as string);
    if (seen.has(name))
      throw new UserError('usage', `--${name} was given more than once`, {
        hint: 'give each option once',
      });
    seen.add(name);
  }
}

/** Every option; --help, --version and the did-you-mean check read this one list. */
export const OPTIONS = {
  server: { type: 'string', describe: 'server URL (direct route)', group: 'Server:' },
  relay: { type: 'string', describe: 'relay URL (internet route)', group: 'Server:' },
  'server-id': {
    type: 'string',
    describe: 'server id (needed for the relay)',
    group: 'Server:',
  },
  'server-pin': {
    type: 'string',
    describe: 'pin of the server key: sha256:...',
    group: 'Server:',
  },
  route: {
    type: 'string',
    choices: ['auto', 'direct', 'relay', 'all'],
    describe: 'route to use (default auto; check --route all confirms every route)',
    group: 'Server:',
  },
  'secret-file': {
    type: 'string',
    describe: 'read the secret from a file (- for stdin)',
    group: 'Secret:',
  },
  secret: {
    type: 'string',
    describe: 'the secret itself (visible to other users; prefer --secret-file)',
    group: 'Secret:',
  },
  prompt: {
    type: 'boolean',
    describe: 'check: ask for the secret at a prompt',
    group: 'Secret:',
  },
  interactive: {
    type: 'boolean',
    describe: 'allow a prompt on a terminal (--no-interactive never prompts)',
    group: 'Secret:',
  },
  config: {
    type: 'string',
    describe: 'config file (default: client-bootstrap.json beside the executable)',
  },
  'state-dir': { type: 'string', describe: 'state directory' },
  user: {
    type: 'boolean',
    describe: "keep the state in this user's own directory (not a system install)",
  },
  force: {
    type: 'boolean',
    describe: 'register again even if already registered, or to a different server',
  },
  deadline: { type: 'number', describe: 'overall deadline in seconds (default 120)' },
  'probe-timeout': {
    type: 'number',
    describe: 'seconds a silent route may cost (default 3)',
  },
  proxy: {
    type: 'string',
    describe: 'HTTP proxy URL (default: HTTPS_PROXY / HTTP_PROXY, with NO_PROXY)',
  },
  'proxy-auth-file': {
    type: 'string',
    describe: 'file with the proxy credentials, one line user:password',
  },
  'ca-file': { type: 'string', describe: 'PEM file with an extra CA for TLS' },
  'ca-system': {
    type: 'boolean',
    describe: "also trust the operating system's certificate store",
  },
  'allow-unpinned-relay': {
    type: 'boolean',
    describe: 'accept a relay route with neither pin nor secret',
  },
  json: { type: 'boolean', describe: 'one JSON object on stdout', group: 'Output:' },
  quiet: { type: 'boolean', describe: 'errors only', group: 'Output:' },
  'log-level': {
    type: 'string',
    choices: ['error', 'warn', 'info', 'debug'],
    describe: 'log detail (default info)',
    group: 'Output:',
  },
  'log-file': {
    type: 'string',
    describe: 'log file (JSON lines, rotated)',
    group: 'Output:',
  },
  'retry-exit-code': {
    type: 'number',
    describe: 'exit with this code instead of 5 or 8 (retry later), e.g. 1618 for SCCM/Intune',
    group: 'Output:',
  },
} as const satisfies Record<string, Options>;

/** The options that take a value, which may start with "-" (an older server id). */
export const VALUE_OPTIONS: ReadonlySet<string> = new Set(
  Object.entries(OPTIONS)
    .filter(([, o]) => o.type !== 'boolean')
    .map(([k]) => k),
);
/** The one option where "-" means standard input. */
export const STDIN_OPTIONS: ReadonlySet<string> = new Set(['secret-file']);

/** Option names as typed, for did-you-mean: ours plus yargs' own. */
const KNOWN_OPTIONS = [...Object.keys(OPTIONS), 'help', 'version'];

/** The option a word names, negation ("--no-x") taken off; undefined for a word that is no option. */
function optionName(word: string): string | undefined {
  const typed = /^--([^=]+)/.exec(word)?.[1];
  if (typed === undefined) return undefined;
  return typed.startsWith('no-') && !KNOWN_OPTIONS.includes(typed) ? typed.slice(3) : typed;
}

/** Whether a word is one of the agent's options (`--name`, `--name=v`, `--no-name`, camelCase as yargs accepts). */
function isOurOption(word: string): boolean {
  const name = optionName(word);
  return name !== undefined && KNOWN_OPTIONS.includes(kebabCase(name));
}

/**
 * Whether the command line carries a secret: a word "--secret" or
 * "--secret=…" in any case, anywhere (after "--" too). Its usage errors then
 * name none of its words.
 */
export function givesSecretFlag(argv: readonly string[]): boolean {
  return argv.some((a) => /^--secret(=|$)/i.test(a));
}

/** A usage error that names none of the command line's words, for a command line that carries --secret. */
export function hiddenUsage(what: string): UserError {
  return new UserError('usage', `${what} (not shown: the command line carries --secret)`, {
    hint: 'check the command line once without --secret, or give the secret with --secret-file or CLIENT_BOOTSTRAP_SECRET',
  });
}

/**
 * The word after --secret is the secret, even when it begins with "--",
 * unless it is one of the agent's options written bare ("--json",
 * "--no-interactive"; "--route=x" is taken as a secret): read as an option,
 * a secret such as "--Tr0ub4dor" would be named in the "unknown option"
 * error. (A secret beginning with one "-" is joined by joinDashValues like
 * any value.)
 */
export function joinSecretFlag(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  const i = argv.findIndex((a, k) => (end < 0 || k < end) && a === '--secret');
  const next = argv[i + 1];
  const bareOption = next !== undefined && !next.includes('=') && isOurOption(next);
  if (i < 0 || next === undefined || !next.startsWith('--') || next === '--' || bareOption)
    return [...argv];
  return [...argv.slice(0, i), `--secret=${next}`, ...argv.slice(i + 2)];
}

/**
 * An unknown option gets one suggestion by edit distance, named as it was
 * typed (yargs would list it twice, once in camelCase, and suggest nothing).
 */
export function refuseUnknownOptions(argv: readonly string[]): void {
  for (const a of argv) {
    if (a === '--') break;
    const name = optionName(a);
    if (name === undefined || isOurOption(a)) continue;
    // It may be the second half of an unquoted secret: neither it nor a near option is named.
    if (givesSecretFlag(argv)) throw hiddenUsage('an unknown option');
    const guess = nearest(name, KNOWN_OPTIONS);
    throw new UserError(
      'usage',
      `unknown option ${a.split('=')[0] as string}${guess ? `; did you mean --${guess}?` : ''}`,
      { hint: 'see client-bootstrap --help for the options' },
    );
  }
}
