/**
 * `npm run package [-- --target T --node-binary PATH --out-dir DIR]`: builds the agent
 * (and only the agent) as one executable with Node's single executable
 * applications: esbuild bundles it into one CommonJS file, Node writes the
 * SEA blob, postject injects it into a copy of a node binary.
 *
 * Targets: linux-x64 (default: this machine's node), linux-arm64, win-x64,
 * macos-x64, macos-arm64 (with that platform's official node binary of the
 * same version as the node running this script).
 *
 * `--out-dir` (default `dist/`) keeps a build apart: the benchmark and the
 * tests build into directories of their own, so no step times or runs an
 * executable another step has replaced.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const TARGETS = {
  'linux-x64': { file: 'client-bootstrap-linux-x64', macho: false },
  'linux-arm64': { file: 'client-bootstrap-linux-arm64', macho: false },
  'win-x64': { file: 'client-bootstrap-win-x64.exe', macho: false },
  'macos-x64': { file: 'client-bootstrap-macos-x64', macho: true },
  'macos-arm64': { file: 'client-bootstrap-macos-arm64', macho: true },
} as const;
type Target = keyof typeof TARGETS;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const hostTarget = `${process.platform === 'win32' ? 'win' : process.platform === 'darwin' ? 'macos' : 'linux'}-${process.arch}`;
const target = (arg('target') ?? hostTarget) as Target;
if (!(target in TARGETS)) {
  console.error(`unknown --target ${target}; one of ${Object.keys(TARGETS).join(', ')}`);
  process.exit(2);
}
const nodeBinary = arg('node-binary') ?? (target === hostTarget ? process.execPath : undefined);
if (!nodeBinary) {
  console.error(
    `--target ${target} needs --node-binary PATH: that platform's official node ${process.version} binary`,
  );
  process.exit(2);
}
const native = target === hostTarget && nodeBinary === process.execPath;

const root = new URL('../', import.meta.url).pathname;
const outDir = arg('out-dir') ?? join(root, 'dist');
const work = join(outDir, 'sea', target);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const bundle = join(work, 'client-bootstrap.cjs');

await build({
  entryPoints: [join(root, 'src/bin/client-bootstrap.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: bundle,
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
  // yargs is ESM and asks for import.meta.url; in one CommonJS file it is this file.
  define: { 'import.meta.url': '__cb_import_meta_url' },
  banner: {
    js: 'const __cb_import_meta_url = require("node:url").pathToFileURL(__filename).href;',
  },
});

const blob = join(work, 'sea-prep.blob');
const config = join(work, 'sea-config.json');
// The code cache is V8- and platform-specific: only for the machine's own node.
writeFileSync(
  config,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: native,
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' });

const out = join(outDir, TARGETS[target].file);
rmSync(out, { force: true });
copyFileSync(nodeBinary, out);
chmodSync(out, 0o755);
const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
execFileSync(
  process.execPath,
  [
    postject,
    out,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
    ...(TARGETS[target].macho ? ['--macho-segment-name', 'NODE_SEA'] : []),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const sha = createHash('sha256').update(readFileSync(out)).digest('hex');
writeFileSync(`${out}.sha256`, `${sha}  ${TARGETS[target].file}\n`);
console.log(
  `${out}\n${sha}  (bundle ${(readFileSync(bundle).length / 1024).toFixed(0)} KiB${native ? ', code cache' : ''})`,
);
if (TARGETS[target].macho)
  console.log('macOS: sign it before shipping (codesign --sign - for local use).');
