/**
 * Settings of the agent, resolved once: flags, then CLIENT_BOOTSTRAP_*
 * environment variables, then the config file (--config, or
 * client-bootstrap.json beside the executable), then defaults. This is
 * the only place that reads the environment.
 */
import { join } from 'node:path';
import { LOG_LEVELS } from '../common/log-levels.ts';
import type { LogLevel } from '../common/log-levels.ts';
import { SensitiveText } from '../common/sensitive-text.ts';
import {
  fromConfigDir,
  CONFIG_FILE_NAME,
  bool,
  checkUrl,
  readConfigFile,
  seconds,
  str,
  usage,
} from './config-file.ts';
import type { FileConfig } from './config-file.ts';
import { resolveNetwork } from './config-network.ts';
import type { NetworkSettings } from './config-network.ts';
import { defaultLogFile, defaultStateDir, userStateDir } from './state-paths.ts';

export { defaultLogFile, defaultStateDir, userStateDir } from './state-paths.ts';

const PIN = /^sha256:[A-Za-z0-9_-]{43}$/;

export type RouteChoice = 'auto' | 'direct' | 'relay';

/** Which agent command the settings are for: `all` routes and a missing route are allowed per command. */
export type SettingsCommand = 'register' | 'check' | 'status' | 'unregister';

/** Where the secret comes from; `none` means a prompt may be used if one is allowed. */
export type SecretSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'stdin' }
  | { readonly kind: 'env'; readonly secret: SensitiveText }
  | { readonly kind: 'flag'; readonly secret: SensitiveText }
  | { readonly kind: 'none' };

export interface AgentSettings extends NetworkSettings {
  readonly server?: string;
  readonly relay?: string;
  readonly serverId?: string;
  readonly serverPin?: string;
  readonly route: RouteChoice;
  readonly secret: SecretSource;
  readonly configFile?: string;
  readonly stateDir: string;
  /** Where the state directory came from: a flag, env or config file; --user; or the default. */
  readonly stateDirFrom: 'given' | 'user' | 'default';
  /** The process runs as root (euid 0); Windows asks `net session` instead (see elevation.ts). */
  readonly isRoot: boolean;
  /** `check --route all`: confirm every configured route, not just the chosen one. */
  readonly allRoutes: boolean;
  /** True when --log-file (or its env or config key) named the log file. */
  readonly logFileGiven: boolean;
  readonly force: boolean;
  readonly deadlineMs: number;
  readonly probeTimeoutMs: number;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly logLevel: LogLevel;
  readonly logFile: string;
  readonly interactive: boolean;
  readonly allowUnpinnedRelay: boolean;
  /** `check` only: ask for the secret at a prompt. */
  readonly prompt: boolean;
}

/** Flags as yargs parsed them; undefined when not given. */
export interface AgentFlags {
  server?: string;
  relay?: string;
  serverId?: string;
  serverPin?: string;
  route?: string;
  secretFile?: string;
  secret?: string;
  config?: string;
  stateDir?: string;
  user?: boolean;
  force?: boolean;
  deadline?: number;
  probeTimeout?: number;
  proxy?: string;
  proxyAuthFile?: string;
  caFile?: string;
  caSystem?: boolean;
  json?: boolean;
  quiet?: boolean;
  logLevel?: string;
  logFile?: string;
  interactive?: boolean;
  allowUnpinnedRelay?: boolean;
  prompt?: boolean;
}

export interface ConfigEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a file as text; throws as fs does. */
  readonly readFile: (path: string) => string;
  readonly exists: (path: string) => boolean;
  /** The directory of the executable (or of the entry script under node). */
  readonly exeDir: string;
  readonly platform: NodeJS.Platform;
  readonly isRoot: boolean;
}

/** Resolves the settings; throws UserError('usage' | 'config') with the reason. */
export function resolveSettings(
  flags: AgentFlags,
  cfg: ConfigEnv,
  opts: { command?: SettingsCommand } = {},
): AgentSettings {
  const command = opts.command ?? 'register';
  const env = (name: string): string | undefined => {
    const v = cfg.env[`CLIENT_BOOTSTRAP_${name}`];
    return v === '' ? undefined : v;
  };
  const configFlag = flags.config ?? env('CONFIG');
  const configFile = configFlag ?? join(cfg.exeDir, CONFIG_FILE_NAME);
  const file = readConfigFile(configFile, cfg, configFlag !== undefined);
  const rel = (p: string | undefined): string | undefined => fromConfigDir(configFile, p);

  const pick = <T>(flag: T | undefined, envName: string, fileKey: keyof FileConfig): unknown =>
    flag ?? env(envName) ?? file[fileKey];

  const server = checkUrl(str(pick(flags.server, 'SERVER', 'server'), '--server'), '--server');
  const relay = checkUrl(str(pick(flags.relay, 'RELAY', 'relay'), '--relay'), '--relay');
  const serverId = str(pick(flags.serverId, 'SERVER_ID', 'serverId'), '--server-id');
  if (serverId !== undefined && !/^[A-Za-z0-9_-]{22}$/.test(serverId))
    throw usage(
      `--server-id ${JSON.stringify(serverId)} is not a server id (22 base64url characters)`,
    );
  const serverPin = str(pick(flags.serverPin, 'SERVER_PIN', 'serverPin'), '--server-pin');
  if (serverPin !== undefined && !PIN.test(serverPin))
    throw usage(
      `--server-pin must look like sha256:<43 base64url characters>`,
      'bootstrap-server client-config prints the pin',
    );
  const routeGiven = str(pick(flags.route, 'ROUTE', 'route'), '--route') ?? 'auto';
  if (!['auto', 'direct', 'relay', 'all'].includes(routeGiven))
    throw usage(`--route must be auto, direct, relay or all`);
  if (routeGiven === 'all' && command !== 'check')
    throw usage('--route all is for check only', 'use --route auto to register');
  const allRoutes = routeGiven === 'all';
  const route = (allRoutes ? 'auto' : routeGiven) as RouteChoice;
  // status and unregister work from the saved state: a detection rule runs them with no config,
  // and unregister tells the server through the routes saved with the registration.
  if (command === 'register' || command === 'check') {
    if (!server && !relay)
      throw usage(
        'no server and no relay are configured',
        'give --server URL and/or --relay URL, or ship client-bootstrap.json beside the executable',
      );
    if (relay && !serverId)
      throw usage('--relay needs --server-id', 'bootstrap-server client-config prints it');
    if (route === 'direct' && !server) throw usage('--route direct needs --server');
    if (route === 'relay' && !relay) throw usage('--route relay needs --relay');
  }

  const sources: SecretSource[] = [];
  const secretFile = flags.secretFile ?? env('SECRET_FILE');
  if (secretFile !== undefined)
    sources.push(secretFile === '-' ? { kind: 'stdin' } : { kind: 'file', path: secretFile });
  const envSecret = env('SECRET');
  if (envSecret !== undefined) sources.push({ kind: 'env', secret: new SensitiveText(envSecret) });
  if (flags.secret !== undefined) {
    if (String(flags.secret) === '') throw usage('--secret was given an empty value');
    sources.push({ kind: 'flag', secret: new SensitiveText(String(flags.secret)) });
  }
  if (sources.length > 1) {
    throw usage(
      `the secret was given ${sources.length} ways at once (${sources.map(describeSource).join(', ')})`,
      'give exactly one of --secret-file, CLIENT_BOOTSTRAP_SECRET or --secret',
    );
  }

  const platformCfg = { env: cfg.env, platform: cfg.platform, isRoot: cfg.isRoot };
  const givenStateDir =
    str(flags.stateDir ?? env('STATE_DIR'), '--state-dir') ?? rel(str(file.stateDir, 'stateDir'));
  const user = flags.user ?? false;
  if (user && givenStateDir !== undefined)
    throw usage(
      '--user and --state-dir (or CLIENT_BOOTSTRAP_STATE_DIR, or stateDir in the config file) both choose the state directory',
      'give one of them',
    );
  const stateDir =
    givenStateDir ?? (user ? userStateDir(platformCfg) : defaultStateDir(platformCfg));
  const stateDirFrom = givenStateDir !== undefined ? 'given' : user ? 'user' : 'default';
  const givenLogFile =
    str(flags.logFile ?? env('LOG_FILE'), '--log-file') ?? rel(str(file.logFile, 'logFile'));
  const logLevel = (str(pick(flags.logLevel, 'LOG_LEVEL', 'logLevel'), '--log-level') ??
    'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    throw usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const network = resolveNetwork({
    flags,
    env,
    rawEnv: cfg.env,
    file,
    rel,
    readFile: cfg.readFile,
  });
  return {
    ...(server ? { server } : {}),
    ...(relay ? { relay } : {}),
    ...(serverId ? { serverId } : {}),
    ...(serverPin ? { serverPin } : {}),
    route,
    secret: sources[0] ?? { kind: 'none' },
    ...(configFlag !== undefined || cfg.exists(configFile) ? { configFile } : {}),
    stateDir,
    stateDirFrom,
    isRoot: cfg.isRoot,
    allRoutes,
    logFileGiven: givenLogFile !== undefined,
    force: flags.force ?? false,
    deadlineMs:
      (seconds(pick(flags.deadline, 'DEADLINE', 'deadline'), '--deadline', 1, 86_400) ?? 120) *
      1000,
    probeTimeoutMs:
      (seconds(
        pick(flags.probeTimeout, 'PROBE_TIMEOUT', 'probeTimeout'),
        '--probe-timeout',
        0.1,
        600,
      ) ?? 3) * 1000,
    ...network,
    json: flags.json ?? false,
    quiet: flags.quiet ?? false,
    logLevel,
    logFile: givenLogFile ?? defaultLogFile(platformCfg, stateDir, user),
    interactive:
      flags.interactive ??
      !(bool(env('NO_INTERACTIVE'), 'CLIENT_BOOTSTRAP_NO_INTERACTIVE') ?? false),
    allowUnpinnedRelay:
      flags.allowUnpinnedRelay ??
      bool(env('ALLOW_UNPINNED_RELAY') ?? file.allowUnpinnedRelay, 'allowUnpinnedRelay') ??
      false,
    prompt: flags.prompt ?? false,
  };
}

export function describeSource(s: SecretSource): string {
  switch (s.kind) {
    case 'file':
      return `--secret-file ${s.path}`;
    case 'stdin':
      return '--secret-file -';
    case 'env':
      return 'CLIENT_BOOTSTRAP_SECRET';
    case 'flag':
      return '--secret';
    case 'none':
      return 'none';
  }
}
