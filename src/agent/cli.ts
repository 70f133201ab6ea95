/**
 * The `client-bootstrap` command line: `run(argv, deps) -> exit code`.
 * Parsing, settings and rendering only; the commands are loaded when one
 * runs, so --help and --version load no network, log or crypto code.
 */
import type { Readable, Writable } from 'node:stream';
import yargs from 'yargs';
import { joinDashValues } from '../common/cli.ts';
import { UserError } from '../common/errors.ts';
import type { TtyInput } from '../common/prompt.ts';
import { VERSION } from '../version.ts';
import { resolveSettings } from './config.ts';
import type { AgentFlags, AgentSettings, ConfigEnv } from './config.ts';
import { deploymentExitCode, parseRetryExitCode } from './deploy-exit.ts';
import { EXIT_MEANINGS } from './exit-codes.ts';
import { failureOf, outcomeOf } from './outcome.ts';
import { createReporter } from './render.ts';
import {
  OPTIONS,
  STDIN_OPTIONS,
  VALUE_OPTIONS,
  givesSecretFlag,
  hiddenUsage,
  joinSecretFlag,
  refuseRepeatedOptions,
  refuseUnknownOptions,
} from './cli-options.ts';
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
  /** Aborted with 'SIGINT' or 'SIGTERM' when the process is told to stop. */
  readonly interrupt?: AbortSignal;
}

type Command = 'register' | 'check' | 'status' | 'unregister';

const EPILOGUE = `Exit codes:\n${EXIT_MEANINGS.map(([c, m, a]) => `  ${c}  ${m} (${a})`).join('\n')}\n\nEnvironment: CLIENT_BOOTSTRAP_SERVER, _RELAY, _SERVER_ID, _SERVER_PIN, _ROUTE, _SECRET, _SECRET_FILE, _CONFIG, _STATE_DIR, _DEADLINE, _PROBE_TIMEOUT, _PROXY, _PROXY_AUTH_FILE, _CA_FILE, _CA_SYSTEM, _LOG_LEVEL, _LOG_FILE, _NO_INTERACTIVE, _ALLOW_UNPINNED_RELAY; HTTPS_PROXY, HTTP_PROXY, NO_PROXY.`;

/** Runs the agent CLI; never throws. */
export async function runAgentCli(argv: string[], deps: AgentCliDeps): Promise<number> {
  const t0 = deps.now();
  const wantsJson = argv.includes('--json');
  const mode: RenderMode = wantsJson ? 'json' : deps.stdout.isTTY ? 'tty' : 'plain';
  let chosen: { command: Command; flags: AgentFlags } | undefined;
  let reporter = createReporter(mode, argv.includes('--quiet'), deps.stdout, deps.stderr, {
    terminal: deps,
  });
  try {
    // A value may begin with "-" (an older server id); "--json" and "--quiet" are never one.
    argv = joinDashValues(joinSecretFlag(argv), VALUE_OPTIONS, STDIN_OPTIONS);
    refuseRepeatedOptions(argv);
    refuseUnknownOptions(argv);
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
      .options(OPTIONS)
      .epilogue(EPILOGUE)
      .strict()
      .exitProcess(false)
      .fail((msg, err) => {
        if (err instanceof UserError) throw err;
        // yargs names the words it refuses; with --secret, one may be part of the secret
        // ("--secret Foo Bar" unquoted).
        if (givesSecretFlag(argv)) throw hiddenUsage('the command line is not valid');
        throw new UserError('usage', msg ?? err?.message ?? 'invalid command line', {
          hint: 'see client-bootstrap --help',
        });
      })
      .version(VERSION)
      // English whatever LANG says, as every other message is.
      .locale('en')
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
      'proxyAuthFile',
      'caFile',
      'caSystem',
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
      { terminal: deps },
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
      ...(deps.interrupt ? { interrupt: deps.interrupt } : {}),
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
