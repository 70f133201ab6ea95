/**
 * The config file (client-bootstrap.json) and the checks every setting
 * goes through, whichever source it came from.
 */
import { dirname, join } from 'node:path';
import { UserError } from '../common/errors.ts';
import type { ConfigEnv } from './config.ts';

export const CONFIG_FILE_NAME = 'client-bootstrap.json';

export const FILE_KEYS = [
  'server',
  'relay',
  'serverId',
  'serverPin',
  'route',
  'stateDir',
  'deadline',
  'probeTimeout',
  'proxy',
  'caFile',
  'caSystem',
  'proxyAuthFile',
  'logLevel',
  'logFile',
  'allowUnpinnedRelay',
] as const;
export type FileConfig = Partial<Record<(typeof FILE_KEYS)[number], unknown>>;

export function usage(message: string, hint?: string): UserError {
  return new UserError('usage', message, hint ? { hint } : {});
}

export function readConfigFile(
  path: string,
  cfg: Pick<ConfigEnv, 'exists' | 'readFile'>,
  explicit: boolean,
): FileConfig {
  if (!explicit && !cfg.exists(path)) return {};
  let text: string;
  try {
    text = cfg.readFile(path);
  } catch (err) {
    throw new UserError(
      'config',
      `cannot read the config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: err },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError('config', `the config file ${path} is not valid JSON`, {
      hint: 'bootstrap-server client-config writes a correct one',
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UserError('config', `the config file ${path} must hold a JSON object`);
  for (const key of Object.keys(parsed)) {
    if (/secret/i.test(key) && key !== 'serverPin') {
      throw new UserError('config', `the config file ${path} must not carry the secret (${key})`, {
        hint: 'give it with --secret-file or CLIENT_BOOTSTRAP_SECRET',
      });
    }
    if (!(FILE_KEYS as readonly string[]).includes(key)) {
      throw new UserError(
        'config',
        `the config file ${path} has an unknown setting ${JSON.stringify(key)}`,
        { hint: `known settings: ${FILE_KEYS.join(', ')}` },
      );
    }
  }
  return parsed;
}

/** A path from the config file: relative ones are relative to the file's folder. */
export function fromConfigDir(configFile: string, path: string | undefined): string | undefined {
  return path === undefined || /^([a-zA-Z]:)?[\\/]/.test(path)
    ? path
    : join(dirname(configFile), path);
}

export function str(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw usage(`${name} must be text`);
  return value;
}

export function seconds(
  value: unknown,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    throw usage(`${name} must be a number of seconds from ${min} to ${max}`);
  return n;
}

export function bool(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(1|true|yes)$/i.test(value)) return true;
  if (typeof value === 'string' && /^(0|false|no)$/i.test(value)) return false;
  throw usage(`${name} must be true or false`);
}

export function checkUrl(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usage(
      `${name} ${JSON.stringify(value)} is not a URL`,
      'for example https://mgmt.example.com:8443',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw usage(`${name} must be an http or https URL`);
  if (url.username || url.password) throw usage(`${name} must not carry credentials`);
  return value.replace(/\/+$/, '');
}

/** Per-OS default state directory. */
