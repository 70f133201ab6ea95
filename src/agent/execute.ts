/**
 * Builds the run's context (log, transport, deadline) and runs a command.
 * Loaded only when a command runs, so --help and --version stay light.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../common/errors.ts';
import { createLogger, silentLogger } from '../common/log.ts';
import type { Logger } from '../common/log.ts';
import type { TtyInput } from '../common/prompt.ts';
import { VERSION } from '../version.ts';
import { checkFlow, statusFlow, unregisterFlow } from './commands.ts';
import type { AgentSettings } from './config.ts';
import type { AgentContext } from './context.ts';
import { Deadline } from './deadline.ts';
import { elevationWarning, isElevated } from './elevation.ts';
import { machineFacts } from './machine.ts';
import type { Outcome } from './outcome.ts';
import { failureOf, outcomeOf } from './outcome.ts';
import { registerFlow } from './register.ts';
import { Timings } from './timings.ts';
import type { Reporter } from './render.ts';
import { proxyPassword } from './proxy.ts';
import { createTransport } from './transport.ts';
import { runtimeSystemStore, trustedRoots } from './trust.ts';
import { protectWindowsDirs } from './windows-acl.ts';
import type { RunCommand } from './windows-acl.ts';

export type Command = 'register' | 'check' | 'status' | 'unregister';

export interface ExecuteDeps {
  readonly stdin: Readable & TtyInput;
  readonly stderr: Writable;
  readonly canPrompt: boolean;
  readonly now: () => number;
  readonly random: () => number;
  readonly readFile: (path: string) => string;
  readonly readBytes: (path: string) => Buffer;
  readonly platform: NodeJS.Platform;
  /** Runs a helper program (icacls, whoami, PowerShell on Windows). */
  readonly runCommand: RunCommand;
  /** Aborted with 'SIGINT' or 'SIGTERM' when the process is told to stop. */
  readonly interrupt?: AbortSignal;
}

/** Commands that only read: they write no file they were not asked for. */
const READ_ONLY: ReadonlySet<Command> = new Set(['check', 'status']);

function openLog(
  command: Command,
  settings: AgentSettings,
  reporter: Reporter,
): { log: Logger; logFile: string | null } {
  // A read-only command appends to a log that exists or was named, and creates none.
  if (READ_ONLY.has(command) && !settings.logFileGiven && !existsSync(settings.logFile))
    return { log: silentLogger, logFile: null };
  try {
    return {
      log: createLogger({ component: 'agent', level: settings.logLevel, file: settings.logFile }),
      logFile: settings.logFile,
    };
  } catch (err) {
    reporter.warn(
      `cannot write the log file ${settings.logFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}); continuing without it`,
    );
    return { log: silentLogger, logFile: null };
  }
}

/** Runs one command and returns its outcome; a bug becomes an `internal` outcome with the stack in the log. */
export async function execute(
  command: Command,
  settings: AgentSettings,
  reporter: Reporter,
  deps: ExecuteDeps,
): Promise<Outcome> {
  // Config: from main to here (loading the CLI, reading flags, environment and config file).
  const timings = new Timings();
  timings.start('config', 0);
  timings.end('config');
  // Only a run that writes to the default place needs the rights to (Windows asks a program).
  const warning =
    READ_ONLY.has(command) || settings.stateDirFrom !== 'default'
      ? null
      : elevationWarning(
          settings,
          deps.platform,
          isElevated(deps.platform, settings.isRoot, deps.runCommand),
        );
  if (warning) reporter.warn(warning);
  const { log, logFile } = openLog(command, settings, reporter);
  if (warning) log.warn('agent.not_elevated', { stateDir: settings.stateDir });
  const t0 = deps.now();
  let outcome = await executeLogged(command, settings, reporter, deps, log, logFile, timings);
  if (deps.interrupt?.aborted && !outcome.ok)
    outcome = interruptedOutcome(deps, t0, logFile, outcome);
  log.info('command.end', { ...outcome });
  timings.end('exit');
  const report = timings.report();
  // The peak resident memory so far (scrypt alone is 128 MiB at the default cost).
  log.debug('timings', {
    ...report,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  });
  await log.close();
  return { ...outcome, timings: report };
}

async function executeLogged(
  command: Command,
  settings: AgentSettings,
  reporter: Reporter,
  deps: ExecuteDeps,
  log: Logger,
  logFile: string | null,
  timings: Timings,
): Promise<Outcome> {
  const t0 = deps.now();
  if (settings.secret.kind === 'env' || settings.secret.kind === 'flag')
    log.addSensitive(settings.secret.secret.reveal());
  log.info('command.start', {
    command,
    version: VERSION,
    pid: process.pid,
    server: settings.server,
    relay: settings.relay,
    serverId: settings.serverId,
    route: settings.route,
    secretSource: settings.secret.kind,
    stateDir: settings.stateDir,
    proxy: settings.proxy?.display,
    caSystem: settings.caSystem,
  });
  // Never logged in the first place; redacted as well, unless so short that it would blank words.
  const proxyPass = settings.proxy?.credentials && proxyPassword(settings.proxy.credentials);
  if (proxyPass && proxyPass.length >= 4) log.addSensitive(proxyPass);
  const deadline = new Deadline(settings.deadlineMs, deps.now);
  const stop = (): void => deadline.abort(String(deps.interrupt?.reason));
  if (deps.interrupt?.aborted) stop();
  deps.interrupt?.addEventListener('abort', stop, { once: true });
  const clock = { logFile, now: deps.now };
  const fail = (err: unknown): Outcome => {
    if (err instanceof UserError) return failureOf(clock, t0, err);
    log.error('bug', { err });
    return outcomeOf(clock, t0, {
      ok: false,
      code: 'internal',
      message: `internal error (a bug): ${(err as Error)?.message ?? String(err)}${logFile ? `; details in ${logFile}` : ''}`,
    });
  };
  try {
    const writes =
      command === 'register' || (command === 'unregister' && existsSync(settings.stateDir));
    if (deps.platform === 'win32' && writes) {
      // Before anything is written there: 0700 means nothing on NTFS.
      mkdirSync(settings.stateDir, { recursive: true });
      protectWindowsDirs(
        [settings.stateDir, ...(logFile ? [dirname(logFile)] : [])],
        deps.runCommand,
      );
      log.info('state.protected', { dirs: [settings.stateDir, logFile && dirname(logFile)] });
    }
    const transport = createTransport({
      ...(settings.proxy ? { proxy: settings.proxy } : {}),
      ...(settings.noProxy ? { noProxy: settings.noProxy } : {}),
      ca: trustedRoots({
        ...settings,
        platform: deps.platform,
        readFile: deps.readFile,
        systemStore: runtimeSystemStore(),
      }),
      connectTimeoutMs: settings.probeTimeoutMs,
    });
    const ctx: AgentContext = {
      settings,
      log,
      reporter,
      deadline,
      transport,
      now: deps.now,
      random: deps.random,
      sleep: (ms, signal) => sleep(ms, undefined, { signal }),
      stdin: deps.stdin,
      stderr: deps.stderr,
      canPrompt: deps.canPrompt,
      readFile: deps.readFile,
      readBytes: deps.readBytes,
      machine: machineFacts,
      logFile,
    };
    try {
      if (command === 'status') return statusFlow(ctx);
      if (command === 'unregister') return await unregisterFlow(ctx);
      if (command === 'check') return await checkFlow(ctx);
      return await registerFlow(ctx, { verifyOnly: false, timings });
    } finally {
      // Exit: closing the connections and the log once the outcome is known.
      timings.start('exit');
      await transport.close().catch(() => undefined);
    }
  } catch (err) {
    return fail(err);
  } finally {
    deps.interrupt?.removeEventListener('abort', stop);
    deadline.dispose();
  }
}

/**
 * A run stopped by a signal: 130 (SIGINT) or 143 (SIGTERM). Everything was
 * unwound through the deadline signal (lock released, nothing half-written:
 * the state file is only ever replaced whole).
 */
function interruptedOutcome(
  deps: ExecuteDeps,
  t0: number,
  logFile: string | null,
  unwound: Outcome,
): Outcome {
  const sigterm = deps.interrupt?.reason === 'SIGTERM';
  return outcomeOf({ now: deps.now, logFile }, t0, {
    ok: false,
    code: sigterm ? 'terminated' : 'interrupted',
    routes: unwound.routes,
    message: `${sigterm ? 'stopped by SIGTERM' : 'interrupted (Ctrl-C)'}: no registration was saved on this machine and nothing was left half-written`,
    hint: 'run it again when ready',
  });
}
