/**
 * The `client-bootstrap` command line: `run(argv, deps) -> exit code`.
 * Parsing, settings and rendering only; the commands are loaded when one
 * runs, so --help and --version load no network, log or crypto code.
 */
import type { Readable, Writable } from 'node:stream';
import yargs from 'yargs';
import { UserError } from '../common/errors.ts';
import type { TtyInput } from '../common/prompt.ts';
import { VERSION } from '../version.ts';
import { resolveSettings } from './config.ts';
import type { AgentFlags, AgentSettings, ConfigEnv } from './config.ts';
import { deploymentExitCode, parseRetryExitCode } from './deploy-exit.ts';
import { EXIT_MEANINGS } from './exit-codes.ts';
import { failureOf, outcomeOf } from './outcome.ts';
import { createReporter } from './render.ts';
import type { RenderMode } from './render.ts';
import type { RunCommand } from './windows-acl.ts';

export interface AgentCliDeps extends ConfigEnv {
  readonly stdin: Readable & TtyInput;
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable;
  readonly now: () => number;
  readonly random: () => number;
  /** A file's bytes: secret files are decoded from them (UTF-8 or UTF-16 with a BOM). */
  readonly readBytes: (path: string) => Buffer;
  readonly runCommand: RunCommand;
}

type Command = 'register' | 'check' | 'status' | 'unregister';

const EPILOGUE = `Exit codes:\n${EXIT_MEANINGS.map(([c, m, a]) => `  ${c}  ${m} (${a})`).join('\n')}\n\nEnvironment: CLIENT_BOOTSTRAP_SERVER, _RELAY, _SERVER_ID, _SERVER_PIN, _ROUTE, _SECRET, _SECRET_FILE, _CONFIG, _STATE_DIR, _DEADLINE, _PROBE_TIMEOUT, _PROXY, _CA_FILE, _LOG_LEVEL, _LOG_FILE, _NO_INTERACTIVE, _ALLOW_UNPINNED_RELAY; HTTPS_PROXY, HTTP_PROXY, NO_PROXY.`;

/** yargs reads a lone "-" as a positional; "--secret-file -" means stdin. */
function joinStdinDash(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--secret-file' && argv[i + 1] === '-') {
      out.push('--secret-file=-');
      i++;
    } else out.push(argv[i] as string);
  }
  return out;
}

/** An option given twice is a mistake worth naming (yargs would merge the values). */
function refuseRepeatedOptions(argv: readonly string[]): void {
  const seen = new Set<string>();
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--(?:no-)?([a-z][a-z0-9-]*)/.exec(a);
    if (!m) continue;
    const name = m[1] as string;
    if (seen.has(name))
      throw new UserError('usage', `--${name} was given more than once`, {
        hint: 'give each option once',
      });
    seen.add(name);
  }
}

/** Runs the agent CLI; never throws. */
export async function runAgentCli(argv: string[], deps: AgentCliDeps): Promise<number> {
  const t0 = deps.now();
  argv = joinStdinDash(argv);
  const wantsJson = argv.includes('--json');
  const mode: RenderMode = wantsJson ? 'json' : deps.stdout.isTTY ? 'tty' : 'plain';
  let chosen: { command: Command; flags: AgentFlags } | undefined;
  let reporter = createReporter(mode, argv.includes('--quiet'), deps.stdout, deps.stderr);
  try {
    refuseRepeatedOptions(argv);
    const parser = yargs(argv)
      .scriptName('client-bootstrap')
      .usage(
        '$0 [command] [options]\n\nRegisters this machine with its management server, directly or through the cloud relay.',
      )
      .command(
        ['register', '$0'],
        'find a route, obtain the secret if needed, register (default)',
        {},
        () => {
          chosen = { command: 'register', flags: {} };
        },
      )
      .command(
        'check',
        'report each route; with a secret, confirm it without registering',
        {},
        () => {
          chosen = { command: 'check', flags: {} };
        },
      )
      .command('status', 'show the saved registration', {}, () => {
        chosen = { command: 'status', flags: {} };
      })
      .command(
        'unregister',
        'remove the saved identity and tell the server if it can be reached',
        {},
        () => {
          chosen = { command: 'unregister', flags: {} };
        },
      )
      .options({
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
        force: { type: 'boolean', describe: 'register again even if already registered' },
        deadline: { type: 'number', describe: 'overall deadline in seconds (default 120)' },
        'probe-timeout': {
          type: 'number',
          describe: 'seconds a silent route may cost (default 3)',
        },
        proxy: {
          type: 'string',
          describe: 'HTTP proxy URL (default: HTTPS_PROXY / HTTP_PROXY, with NO_PROXY)',
        },
        'ca-file': { type: 'string', describe: 'PEM file with an extra CA for TLS' },
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
          describe:
            'exit with this code instead of 5 or 8 (retry later), e.g. 1618 for SCCM/Intune',
          group: 'Output:',
        },
      })
      .epilogue(EPILOGUE)
      .strict()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err instanceof UserError
          ? err
          : new UserError('usage', msg ?? err?.message ?? 'invalid command line', {
              hint: 'see client-bootstrap --help',
            });
      })
      .version(VERSION)
      .help();
    const parsed = await parser.parseAsync();
    if (!chosen) return 0; // --help or --version was printed
    const flags: AgentFlags = {};
    const keys: (keyof AgentFlags)[] = [
      'server',
      'relay',
      'serverId',
      'serverPin',
      'route',
      'secretFile',
      'secret',
      'config',
      'stateDir',
      'user',
      'force',
      'deadline',
      'probeTimeout',
      'proxy',
      'caFile',
      'json',
      'quiet',
      'logLevel',
      'logFile',
      'interactive',
      'allowUnpinnedRelay',
      'prompt',
    ];
    for (const k of keys)
      if (parsed[k] !== undefined) (flags as Record<string, unknown>)[k] = parsed[k];
    const settings: AgentSettings = resolveSettings(flags, deps, { command: chosen.command });
    const retryAs = parseRetryExitCode(parsed.retryExitCode, deps.platform);
    reporter = createReporter(
      settings.json ? 'json' : mode,
      settings.quiet,
      deps.stdout,
      deps.stderr,
    );
    const { execute } = await import('./execute.ts');
    const outcome = await execute(chosen.command, settings, reporter, {
      stdin: deps.stdin,
      stderr: deps.stderr,
      canPrompt: deps.stdin.isTTY === true,
      now: deps.now,
      random: deps.random,
      readFile: deps.readFile,
      readBytes: deps.readBytes,
      platform: deps.platform,
      runCommand: deps.runCommand,
    });
    reporter.finish(outcome);
    return deploymentExitCode(outcome.exitCode, retryAs);
  } catch (err) {
    const clock = { now: deps.now, logFile: null };
    const outcome =
      err instanceof UserError
        ? failureOf(clock, t0, err)
        : outcomeOf(clock, t0, {
            ok: false,
            code: 'internal',
            message: `internal error (a bug): ${(err as Error)?.message ?? String(err)}`,
          });
    if (!(err instanceof UserError)) deps.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    reporter.finish(outcome);
    return outcome.exitCode;
  }
}
