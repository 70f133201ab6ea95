/**
 * `npm run package [-- --target T|all] [--sign] [--msi] [--config FILE]`:
 * builds the agent (and only the agent) as one executable per target with
 * Node's single executable applications, on the pinned Node runtime
 * (scripts/package/runtimes.ts) whatever Node runs this script.
 *
 * esbuild bundles the agent into one CommonJS file, and a small main script
 * that starts the key derivation before it compiles that file (carried as
 * an asset; see src/bin/sea-main.ts); the pinned runtime for
 * this machine writes the SEA blob (a blob must come from the same Node
 * version as the binary it goes into, and without a code cache it is the same
 * bytes for every platform); postject injects it into a copy of each Linux
 * target's pinned binary. For Windows, node.exe's signature is removed and
 * one resedit pass adds the blob and our version resources and icon; then
 * optionally our signature and an MSI. Every file gets a `.sha256`. Builds are reproducible: the same
 * sources give the same bytes.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { AGENT_ASSET, AGENT_CODE_CACHE_ASSET, AGENT_PARAMS } from '../src/bin/sea-layout.ts';
import { bundleAgent } from './package/bundle-lean.ts';
import { buildMsi } from './package/msi.ts';
import {
  BuildError,
  ensureRuntime,
  NODE_VERSION,
  pinFor,
  RUNTIMES,
  sha256File,
} from './package/runtimes.ts';
import type { Target } from './package/runtimes.ts';
import {
  brandExe,
  fixPeChecksum,
  removeSignature,
  SEA_FUSE,
  signExe,
  signingConfigFromEnv,
} from './package/windows.ts';
import type { ProductInfo } from './package/windows.ts';

const FILES: Record<Target, string> = {
  'linux-x64': 'client-bootstrap-linux-x64',
  'linux-arm64': 'client-bootstrap-linux-arm64',
  'win-x64': 'client-bootstrap-win-x64.exe',
  'macos-x64': 'client-bootstrap-macos-x64',
  'macos-arm64': 'client-bootstrap-macos-arm64',
};
/** What `--target all` builds: every target with a pinned runtime. */
const ALL: Target[] = ['linux-x64', 'linux-arm64', 'win-x64'];

interface Options {
  readonly targets: Target[];
  readonly nodeBinary?: string;
  readonly outDir: string;
  readonly sign: boolean;
  readonly msi: boolean;
  readonly config?: string;
  readonly codeCache: boolean;
  readonly nodeVersion: string;
}

function parseArgs(argv: string[], root: string): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new BuildError(`--${name} needs a value`);
    return v;
  };
  const known = [
    '--target',
    '--node-binary',
    '--node-version',
    '--out-dir',
    '--config',
    '--sign',
    '--msi',
    '--code-cache',
  ];
  for (const a of argv)
    if (a.startsWith('--') && !known.includes(a)) throw new BuildError(`unknown option ${a}`);
  const hostTarget = host();
  const t = value('target') ?? hostTarget;
  const targets = t === 'all' ? ALL : [t as Target];
  for (const x of targets)
    if (!(x in FILES))
      throw new BuildError(`unknown --target ${x}; one of ${Object.keys(FILES).join(', ')}, all`);
  const nodeBinary = value('node-binary');
  if (nodeBinary && targets.length > 1)
    throw new BuildError('--node-binary goes with one --target, not all');
  const sign = argv.includes('--sign');
  const msi = argv.includes('--msi');
  if ((sign || msi) && !targets.includes('win-x64'))
    throw new BuildError('--sign and --msi apply to --target win-x64 (or all)');
  const codeCache = argv.includes('--code-cache');
  if (codeCache && (targets.length > 1 || targets[0] !== hostTarget))
    throw new BuildError(`--code-cache only for this machine's own target (${hostTarget})`);
  const config = value('config');
  const nodeVersion = value('node-version') ?? NODE_VERSION;
  if (!RUNTIMES[nodeVersion])
    throw new BuildError(
      `--node-version ${nodeVersion} has no pins; one of ${Object.keys(RUNTIMES).join(', ')}`,
    );
  return {
    nodeVersion,
    targets,
    ...(nodeBinary ? { nodeBinary: resolve(nodeBinary) } : {}),
    outDir: resolve(value('out-dir') ?? join(root, 'dist')),
    sign,
    msi,
    ...(config ? { config: resolve(config) } : {}),
    codeCache,
  };
}

function host(): Target {
  const os =
    process.platform === 'win32' ? 'win' : process.platform === 'darwin' ? 'macos' : 'linux';
  return `${os}-${process.arch}` as Target;
}

/** The binary for `target`: the pinned one, or a given file that must be exactly it. */
function runtimeFor(target: Target, version: string, given: string | undefined): string {
  const pin = pinFor(target, version);
  if (!pin)
    throw new BuildError(
      target.startsWith('macos')
        ? `no pinned runtime for ${target}: macOS executables are built and signed on a Mac`
        : `no pinned Node ${version} runtime for ${target}`,
    );
  if (!given) return ensureRuntime(target, { version });
  if (sha256File(given) === pin.binarySha256) return given;
  throw new BuildError(
    `--node-binary ${given} is not the pinned Node ${version} binary for ${target} (sha256 ${pin.binarySha256}); leave it out to fetch that one`,
  );
}

/**
 * Writes the SEA blob by running `node` (the pinned runtime of this
 * machine). With `codeCache`, the same runtime also makes the code cache of
 * the agent's bundle.
 */
function writeBlob(
  node: string,
  scripts: { main: string; agent: string },
  blob: string,
  codeCache: boolean,
): void {
  const dir = dirname(blob);
  // The builder's own NODE_OPTIONS must not change what goes into the blob.
  const env = { ...process.env, NODE_OPTIONS: '' };
  const assets: Record<string, string> = { [AGENT_ASSET]: relative(dir, scripts.agent) };
  if (codeCache) {
    const cache = join(dir, AGENT_CODE_CACHE_ASSET);
    quietly(node, ['-e', CODE_CACHE_SCRIPT, scripts.agent, cache, ...AGENT_PARAMS], {
      env,
    });
    assets[AGENT_CODE_CACHE_ASSET] = relative(dir, cache);
  }
  const config = `${blob}.json`;
  writeFileSync(
    config,
    JSON.stringify({
      // Relative to the blob's directory: the blob records the main script's
      // name, and an absolute one would make the bytes depend on --out-dir.
      main: relative(dir, scripts.main),
      output: basename(blob),
      assets,
      disableExperimentalSEAWarning: true,
      // The code cache is V8- and platform-specific and differs from run to run.
      useCodeCache: codeCache,
      // NODE_OPTIONS must not reach an agent that runs as SYSTEM holding the secret.
      execArgvExtension: 'none',
      // No V8 flags here: with any, V8 rejects the code cache of Node's own modules
      // (see keepWasmOnLiftoff in src/agent/transport.ts).
    }),
  );
  quietly(node, ['--experimental-sea-config', basename(config)], {
    env,
    cwd: dir,
  });
}

/** Compiles the agent's bundle as sea-main.ts does and writes V8's code cache of it. */
const CODE_CACHE_SCRIPT = `
const [bundle, out, ...params] = process.argv.slice(1);
const fs = require('node:fs');
const fn = require('node:vm').compileFunction(fs.readFileSync(bundle, 'utf8'), params, {
  filename: require('node:path').basename(bundle),
  produceCachedData: true,
});
if (!fn.cachedDataProduced) throw new Error('V8 made no code cache');
fs.writeFileSync(out, fn.cachedData);
`;

/** Runs a build step; its chatter (LIEF's warnings about node's sections) is shown only on failure. */
function quietly(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): void {
  const r = spawnSync(cmd, args, { ...opts, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0)
    throw new BuildError(`${basename(cmd)} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
}

function inject(root: string, exe: string, blob: string, macho: boolean): void {
  const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  quietly(process.execPath, [
    postject,
    exe,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    SEA_FUSE,
    ...(macho ? ['--macho-segment-name', 'NODE_SEA'] : []),
  ]);
}

function writeSha256(path: string): string {
  const sha = sha256File(path);
  writeFileSync(`${path}.sha256`, `${sha}  ${basename(path)}\n`);
  return sha;
}

function productInfo(root: string, fileName: string): ProductInfo {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  return {
    version: pkg.version,
    productName: 'Client Bootstrap',
    description: 'Client Bootstrap registration agent',
    company: 'Client Bootstrap',
    copyright: 'Client Bootstrap',
    fileName,
  };
}

async function main(argv: string[]): Promise<void> {
  const root = new URL('../', import.meta.url).pathname;
  const opts = parseArgs(argv, root);
  const work = join(opts.outDir, 'sea');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const scripts = await bundleAgent(root, work);
  const blobNode = host() === opts.targets[0] && opts.nodeBinary ? opts.nodeBinary : undefined;
  const builder = runtimeFor(host(), opts.nodeVersion, blobNode);
  const blob = join(work, 'sea-prep.blob');
  writeBlob(builder, scripts, blob, opts.codeCache);

  for (const target of opts.targets) {
    const binary = runtimeFor(target, opts.nodeVersion, opts.nodeBinary);
    const out = join(opts.outDir, FILES[target]);
    rmSync(out, { force: true });
    copyFileSync(binary, out);
    chmodSync(out, 0o755);
    const info = productInfo(root, FILES[target]);
    if (target === 'win-x64') {
      // node.exe's signature first (osslsigncode: it would no longer match), then the
      // blob, fuse, version resources and icon in one resedit pass, then the checksum.
      removeSignature(out);
      brandExe(out, info, readFileSync(blob));
      fixPeChecksum(out);
    } else inject(root, out, blob, target.startsWith('macos'));
    if (target === 'win-x64' && opts.sign)
      signExe(out, signingConfigFromEnv(process.env), { productName: info.productName });
    const sha = writeSha256(out);
    console.log(
      `${out}\n${sha}  (Node ${opts.nodeVersion}${opts.codeCache ? ', code cache' : ''})`,
    );
    if (target === 'win-x64' && opts.msi) {
      const msi = buildMsi({
        exe: out,
        outDir: opts.outDir,
        version: info.version,
        ...(opts.config ? { config: opts.config } : {}),
        work: join(work, 'msi'),
      });
      if (opts.sign)
        signExe(msi, signingConfigFromEnv(process.env), { productName: info.productName });
      console.log(`${msi}\n${writeSha256(msi)}`);
    }
  }
  rmSync(work, { recursive: true, force: true });
}

try {
  await main(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof BuildError)) throw err;
  console.error(`package: ${err.message}`);
  process.exitCode = 2;
}
