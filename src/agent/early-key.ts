/**
 * The key derivation started by the entry point itself, before the CLI, the
 * log and the network stack are loaded (in the single executable, by its
 * main script, before the agent is even compiled: src/bin/sea-main.ts):
 * scrypt runs in the libuv thread
 * pool while the main thread loads and reads the configuration, which takes
 * longer than the probes do. It looks at the flags, the environment and the
 * config file (`register` with a server id from --server-id,
 * CLIENT_BOOTSTRAP_SERVER_ID or the file, and a secret from --secret-file,
 * CLIENT_BOOTSTRAP_SECRET_FILE, CLIENT_BOOTSTRAP_SECRET or --secret);
 * anything else (the saved state, a prompt) waits for the normal
 * speculative start.
 *
 * What starts here is a guess and nothing more. The run's KeyDeriver takes
 * it only for the very same secret bytes that the configuration then reads
 * (compared in constant time), and uses it only for a verified hello that
 * names this server id and the default parameters. A guess nobody takes
 * is wiped when it finishes. Any doubt (a file that is not a plain file,
 * that does not decode, a flag given twice) means no early start.
 *
 * This module is loaded before everything else: what it imports must stay
 * free of the CLI, the log and the network stack.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_KDF, Secret, derivePrs } from '../protocol/secret.ts';
import type { KdfParams, Prs } from '../protocol/secret.ts';
import { CONFIG_FILE_NAME, fromConfigDir, readConfigFile } from './config-file.ts';
import { exeDir } from './process-deps.ts';
import { MAX_SECRET_FILE_BYTES, decodeSecretFile } from './secret-file.ts';
import { STATE_FILE_NAME, defaultStateDir, userStateDir } from './state-paths.ts';

export interface EarlyKey {
  readonly serverId: string;
  readonly kdf: KdfParams;
  readonly secret: Secret;
  /** performance.now() when scrypt started. */
  readonly startedAt: number;
  /** The key and performance.now() when it was done, or the error. */
  readonly result: Promise<{ prs: Prs; doneAt: number } | { error: unknown }>;
}

let pending: EarlyKey | undefined;
/**
 * Whether this run asked already: the single executable's main script asks
 * first, and the agent's entry then asks again, which must not read the
 * config file and the state directory a second time.
 */
let asked = false;

/** The commands that are not `register` (the default command). */
const OTHER_COMMANDS = new Set(['check', 'status', 'unregister']);
/** Flags that answer without registering. */
const NO_RUN = new Set(['--help', '-h', '--version']);
const SERVER_ID = /^[A-Za-z0-9_-]{22}$/;

/** Whether the command line asks for a `register` (the default command), not another command or an answer. */
function isRegister(argv: readonly string[]): boolean {
  return !argv.some((a) => OTHER_COMMANDS.has(a) || NO_RUN.has(a));
}

/** Any doubt: no early start. */
class Skip extends Error {}

/** The value of `--name V` or `--name=V`, undefined when absent; a flag given twice is a doubt. */
function flag(argv: readonly string[], name: string): string | undefined {
  const found: string[] = [];
  argv.forEach((a, i) => {
    if (a === name && i + 1 < argv.length) found.push(argv[i + 1] as string);
    else if (a.startsWith(`${name}=`)) found.push(a.slice(name.length + 1));
  });
  if (found.length > 1) throw new Skip();
  return found[0];
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** What the configuration will say, read the same way in the same order (flag, environment, file). */
function settingsOf(argv: readonly string[], env: NodeJS.ProcessEnv) {
  const given = (name: string, envName: string): string | undefined =>
    flag(argv, name) ?? text(env[`CLIENT_BOOTSTRAP_${envName}`]);
  const configFlag = given('--config', 'CONFIG');
  const configFile = configFlag ?? join(exeDir(), CONFIG_FILE_NAME);
  // The configuration's own reader and checks: a file it refuses starts nothing here.
  const file = readConfigFile(
    configFile,
    { exists: existsSync, readFile: (p) => readFileSync(p, 'utf8') },
    configFlag !== undefined,
  );
  const platform = { env, platform: process.platform, isRoot: process.geteuid?.() === 0 };
  const stateDir =
    given('--state-dir', 'STATE_DIR') ??
    fromConfigDir(configFile, text(file.stateDir)) ??
    (argv.includes('--user') ? userStateDir(platform) : defaultStateDir(platform));
  return {
    serverId: given('--server-id', 'SERVER_ID') ?? text(file.serverId),
    secretFile: given('--secret-file', 'SECRET_FILE'),
    secretText: text(env.CLIENT_BOOTSTRAP_SECRET) ?? text(flag(argv, '--secret')),
    stateDir,
  };
}

function secretOf(settings: ReturnType<typeof settingsOf>): Secret {
  const { secretFile, secretText } = settings;
  if (secretFile !== undefined && secretText !== undefined) throw new Skip();
  if (secretText !== undefined) return Secret.from(secretText);
  if (secretFile === undefined || secretFile === '-') throw new Skip();
  // Never wait on a FIFO, a device or a huge file: only a plain file is read here.
  const st = statSync(secretFile);
  if (!st.isFile() || st.size > MAX_SECRET_FILE_BYTES) throw new Skip();
  return Secret.from(decodeSecretFile(readFileSync(secretFile), 'the secret file'));
}

/**
 * Whether the state directory holds a registration. Every run writes a
 * state file with `"registration": null` first, so a run that failed
 * leaves one behind: only a file that says null is no registration. A file
 * that cannot be read or parsed counts as one (any doubt: no early start).
 */
function registeredIn(stateDir: string): boolean {
  const file = join(stateDir, STATE_FILE_NAME);
  if (!existsSync(file)) return false;
  try {
    const st = statSync(file);
    if (!st.isFile() || st.size > 64 * 1024) return true;
    return (
      (JSON.parse(readFileSync(file, 'utf8')) as { registration?: unknown }).registration !== null
    );
  } catch {
    return true;
  }
}

/**
 * Whether this run is a `register` whose state directory (from the flags,
 * the environment or the config file) holds no registration yet: a run that
 * will most likely derive a key, whether the server id is known now or only
 * once hello answers. False on any doubt. Reads no secret.
 */
export function mayDerive(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  try {
    if (!isRegister(argv)) return false;
    return !registeredIn(settingsOf(argv, env).stateDir);
  } catch {
    return false;
  }
}

/**
 * Starts deriving when this run is a `register` whose server id and secret
 * are known from the flags, the environment or the config file, and whose
 * state directory holds no registration yet (a re-run of a deployment on a
 * registered machine usually derives nothing at all). Never throws.
 * CLIENT_BOOTSTRAP_EARLY_KEY=0 turns it off (the test suite does, for its
 * hundreds of short runs against servers with a cheaper test KDF, where an
 * early key at the default cost would be discarded every time).
 */
export function startEarlyKey(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  try {
    if (asked) return;
    asked = true;
    if (env.CLIENT_BOOTSTRAP_EARLY_KEY === '0') return;
    if (!isRegister(argv)) return;
    const settings = settingsOf(argv, env);
    const { serverId } = settings;
    if (serverId === undefined || !SERVER_ID.test(serverId)) return;
    if (registeredIn(settings.stateDir)) return;
    const secret = secretOf(settings);
    const kdf = DEFAULT_KDF;
    const startedAt = performance.now();
    const result = derivePrs(secret, Buffer.from(serverId, 'base64url'), kdf).then(
      (prs) => ({ prs, doneAt: performance.now() }),
      (error: unknown) => ({ error }),
    );
    const early: EarlyKey = { serverId, kdf, secret, startedAt, result };
    pending = early;
    // Nobody took it (the run stopped before it needed a key): wiped on the way out.
    let key: Prs | undefined;
    void result.then((r) => {
      if ('prs' in r) key = r.prs;
    });
    process.once('exit', () => {
      if (pending !== early) return;
      secret.wipe();
      key?.wipe();
    });
  } catch {
    // Whatever went wrong here, the normal path reads the same things and says so.
  }
}

/**
 * Hands the early derivation over, once; undefined when none was started
 * or it was taken already. The taker owns it: it must wipe its secret and,
 * when it does not use it, its key. A later run in the same process (the
 * tests') may then ask again.
 */
export function takeEarlyKey(): EarlyKey | undefined {
  const e = pending;
  pending = undefined;
  asked = false;
  return e;
}
