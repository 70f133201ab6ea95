/**
 * The network part of the settings: the proxy (with its credentials) and
 * whom TLS trusts (--ca-file, --ca-system). Called from resolveSettings,
 * which owns the environment; nothing here reads process.env.
 */
import { UserError } from '../common/errors.ts';
import type { SensitiveText } from '../common/sensitive-text.ts';
import { bool, str } from './config-file.ts';
import { parseProxyAuthFile, parseProxyUrl } from './proxy.ts';
import type { ProxySetting } from './proxy.ts';

export interface NetworkSettings {
  readonly proxy?: ProxySetting;
  readonly noProxy?: string;
  readonly caFile?: string;
  /** Trust the operating system's certificate store as well (--ca-system). */
  readonly caSystem: boolean;
  /** SSL_CERT_FILE, where a runtime without a system-store API finds the system bundle. */
  readonly sslCertFile?: string;
}

export interface NetworkInputs {
  readonly flags: {
    proxy?: string;
    proxyAuthFile?: string;
    caFile?: string;
    caSystem?: boolean;
  };
  /** CLIENT_BOOTSTRAP_<name>, empty as undefined. */
  readonly env: (name: string) => string | undefined;
  /** Any other environment variable. */
  readonly rawEnv: Readonly<Record<string, string | undefined>>;
  readonly file: { proxy?: unknown; proxyAuthFile?: unknown; caFile?: unknown; caSystem?: unknown };
  /** Resolves a config-file path against the file's directory. */
  readonly rel: (p: string | undefined) => string | undefined;
  readonly readFile: (path: string) => string;
}

/** The first proxy setting given, with the name of where it came from. */
function proxySource(i: NetworkInputs): { value: string; from: string } | undefined {
  const e = i.rawEnv;
  const candidates: [unknown, string][] = [
    [i.flags.proxy, '--proxy'],
    [i.env('PROXY'), 'CLIENT_BOOTSTRAP_PROXY'],
    [i.file.proxy, 'the config setting proxy'],
    [e.HTTPS_PROXY, 'HTTPS_PROXY'],
    [e.https_proxy, 'https_proxy'],
    [e.HTTP_PROXY, 'HTTP_PROXY'],
    [e.http_proxy, 'http_proxy'],
  ];
  for (const [value, from] of candidates) {
    const v = str(value, from);
    if (v !== undefined) return { value: v, from };
  }
  return undefined;
}

function readAuthFile(path: string, readFile: (p: string) => string): SensitiveText {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    throw new UserError(
      'usage',
      `cannot read the proxy credentials file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      {
        cause: err,
        hint: 'give --proxy-auth-file a readable file holding one line: user:password',
      },
    );
  }
  return parseProxyAuthFile(text, path);
}

/** Resolves proxy and TLS trust settings; throws UserError('usage') with the reason. */
export function resolveNetwork(i: NetworkInputs): NetworkSettings {
  const source = proxySource(i);
  const authPath =
    str(i.flags.proxyAuthFile ?? i.env('PROXY_AUTH_FILE'), '--proxy-auth-file') ??
    i.rel(str(i.file.proxyAuthFile, 'proxyAuthFile'));
  let proxy: ProxySetting | undefined;
  if (source) {
    const parsed = parseProxyUrl(source.value, source.from);
    // A credentials file wins over credentials in the URL: HTTPS_PROXY may be set machine-wide.
    proxy = authPath
      ? {
          url: parsed.url,
          display: parsed.display,
          credentials: readAuthFile(authPath, i.readFile),
        }
      : parsed;
  } else if (authPath) {
    throw new UserError('usage', '--proxy-auth-file was given but no proxy is configured', {
      hint: 'give --proxy URL (or HTTPS_PROXY) as well',
    });
  }
  const noProxy = i.rawEnv.NO_PROXY ?? i.rawEnv.no_proxy;
  const caFile =
    str(i.flags.caFile ?? i.env('CA_FILE'), '--ca-file') ?? i.rel(str(i.file.caFile, 'caFile'));
  const caSystem =
    i.flags.caSystem ?? bool(i.env('CA_SYSTEM') ?? i.file.caSystem, 'caSystem') ?? false;
  const sslCertFile = i.rawEnv.SSL_CERT_FILE;
  return {
    ...(proxy ? { proxy } : {}),
    ...(noProxy ? { noProxy } : {}),
    ...(caFile ? { caFile } : {}),
    caSystem,
    ...(caSystem && sslCertFile ? { sslCertFile } : {}),
  };
}
