/**
 * The executable's two scripts (bundleAgent), and what the agent's bundle
 * leaves out of the start of every run, each measured with `npm run bench`
 * (peak memory, or CPU while scrypt runs):
 *
 * - `undici` resolves to its dispatchers only (Agent, EnvHttpProxyAgent and
 *   the request API they carry), the way undici's own index wires them. The
 *   index also loads fetch, WebSocket, EventSource, the mocks and the cache
 *   stores, and with them Node's own bundled copy of undici: about 6 MiB
 *   the agent never uses.
 * - `string-width` (yargs' help layout, which yargs lays out on every run
 *   of a default command) creates an `Intl.Segmenter` as it loads, which
 *   maps about 9 MiB of ICU data. Printable ASCII is one column a character
 *   in string-width's own rules, so text that is all printable ASCII (all of
 *   our help) is measured by its length; the package is loaded for the
 *   first text that is not.
 * - `@dabh/diagnostics` (winston's debug output about itself, shown only
 *   with DEBUG=winston* and NODE_ENV other than production) resolves to its
 *   production build, which prints nothing and loads nothing. Its
 *   development build loads colour tables and a colour-space parser when
 *   winston loads: about 10 ms of CPU on every run.
 * - Node modules a registration never uses but two packages load as they
 *   load are loaded at first use instead: `node:http2` by undici's HTTP/2
 *   client (8 to 15 ms of CPU; the agent never offers HTTP/2, so ALPN never
 *   picks it) and `zlib` by winston's file transport (about 2 ms; it gzips
 *   only with `zippedArchive`, which the agent does not set). Each ran
 *   while scrypt does, on the other core of a small machine.
 *
 * The plain build (dist/, run by the tests under Node) imports these
 * packages as they are; the executable's tests run this bundle, and
 * test/sea-bundle.test.ts lists the Node modules it loads in a registration.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import type { Plugin, PluginBuild } from 'esbuild';
import { AGENT_ASSET, EARLY_KEY_MODULE } from '../../src/bin/sea-layout.ts';

const UNDICI_LEAN = 'client-bootstrap:undici-lean';
const LAZY = 'client-bootstrap:lazy';
const LAZY_H2 = 'client-bootstrap:lazy-h2';
const WINSTON_FILE_NS = 'client-bootstrap:winston-file';
/** winston's transports index, which asks for './file'. */
const WINSTON_TRANSPORTS = /[\\/]winston[\\/]lib[\\/]winston[\\/]transports[\\/]index\.js$/;

/** winston's file transport's line that loads zlib, and what the bundle has instead. */
const WINSTON_ZLIB = "const zlib = require('zlib');";
const WINSTON_ZLIB_LAZY =
  "let zlibLoaded; const zlib = { createGzip: (...a) => (zlibLoaded ??= require('zlib')).createGzip(...a) };";

/**
 * Puts what matches `filter` (asked for by an importer that `importer`
 * matches, when given) into `namespace`, at the path it resolves to, so
 * that the namespace's onLoad makes its contents; that onLoad's own
 * request for the same name resolves as usual.
 */
function intoNamespace(
  build: PluginBuild,
  filter: RegExp,
  namespace: string,
  importer?: RegExp,
): void {
  build.onResolve({ filter }, async (args) => {
    if (args.pluginData === namespace || (importer && !importer.test(args.importer)))
      return undefined;
    const real = await build.resolve(args.path, {
      kind: args.kind,
      resolveDir: args.resolveDir,
      importer: args.importer,
      pluginData: namespace,
    });
    if (real.errors.length > 0) return { errors: real.errors };
    return { path: real.path, namespace };
  });
}

export function leanBundle(): Plugin {
  return {
    name: 'client-bootstrap-lean',
    setup(build) {
      // The shim itself asks for undici's files by path, which this filter does not match.
      build.onResolve({ filter: /^undici$/ }, (args) => ({
        path: args.resolveDir,
        namespace: UNDICI_LEAN,
      }));
      build.onLoad({ filter: /.*/, namespace: UNDICI_LEAN }, (args) => ({
        resolveDir: args.path,
        loader: 'js',
        contents: [
          "const Dispatcher = require('undici/lib/dispatcher/dispatcher');",
          "Object.assign(Dispatcher.prototype, require('undici/lib/api'));",
          "exports.Agent = require('undici/lib/dispatcher/agent');",
          "exports.EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent');",
        ].join('\n'),
      }));

      build.onResolve({ filter: /^@dabh\/diagnostics$/ }, (args) =>
        build.resolve('@dabh/diagnostics/node/production.js', {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
        }),
      );

      // undici's client loads its HTTP/2 half (and node:http2) as it loads.
      intoNamespace(build, /^\.\/client-h2\.js$/, LAZY_H2);
      build.onLoad({ filter: /.*/, namespace: LAZY_H2 }, (args) => {
        if (!/\bmodule\.exports = connectH2\s*$/.test(readFileSync(args.path, 'utf8')))
          return { errors: [{ text: `${args.path} no longer exports connectH2 alone` }] };
        return {
          resolveDir: dirname(args.path),
          loader: 'js',
          contents: [
            'let real;',
            'module.exports = function connectH2(...args) {',
            `  real ??= require(${JSON.stringify(args.path)});`,
            '  return real(...args);',
            '};',
          ].join('\n'),
        };
      });

      intoNamespace(build, /^\.\/file$/, WINSTON_FILE_NS, WINSTON_TRANSPORTS);
      build.onLoad({ filter: /.*/, namespace: WINSTON_FILE_NS }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        // A winston that loads zlib otherwise fails the build rather than keeping it.
        if (source.split(WINSTON_ZLIB).length !== 2 || /zlib\.(?!createGzip\()/.test(source))
          return {
            errors: [{ text: `${args.path} no longer loads zlib as bundle-lean.ts expects` }],
          };
        return {
          contents: source.replace(WINSTON_ZLIB, WINSTON_ZLIB_LAZY),
          loader: 'js',
          resolveDir: dirname(args.path),
        };
      });

      // Each importer keeps its own version of string-width (yargs and cliui differ).
      intoNamespace(build, /^string-width$/, LAZY);
      build.onLoad({ filter: /.*/, namespace: LAZY }, (args) => ({
        resolveDir: dirname(args.path),
        loader: 'js',
        contents: [
          'let real;',
          'export default function stringWidth(text, options) {',
          "  if (typeof text === 'string' && /^[\\x20-\\x7e]*$/.test(text)) return text.length;",
          `  real ??= require(${JSON.stringify(args.path)}).default;`,
          '  return real(text, options);',
          '}',
        ].join('\n'),
      }));
    },
  };
}

/** The two scripts of the executable (src/bin/sea-layout.ts): its main script and the agent. */
export async function bundleAgent(
  root: string,
  work: string,
): Promise<{ main: string; agent: string }> {
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: false,
    legalComments: 'none',
    logLevel: 'warning',
  } as const;
  const agent = join(work, AGENT_ASSET);
  const { metafile } = await build({
    ...common,
    entryPoints: [join(root, 'src/bin/client-bootstrap.ts')],
    outfile: agent,
    plugins: [leanBundle(), earlyKeyFromMain()],
    // The bundle's only `require` is the one sea-main.ts hands it: an import() of
    // what stays outside (early-key.ts, Node's modules) must become a require.
    supported: { 'dynamic-import': false },
    // yargs is ESM and asks for import.meta.url; in one CommonJS file it is this file.
    define: { 'import.meta.url': '__cb_import_meta_url' },
    banner: {
      js: 'const __cb_import_meta_url = require("node:url").pathToFileURL(__filename).href;',
    },
    metafile: true,
  });
  // A dependency that moved a file the plugin rewrites fails the build, not the start-up time.
  const inputs = Object.keys(metafile.inputs);
  const missing = [
    [`${LAZY_H2}:`, "undici's HTTP/2 client"],
    [`${WINSTON_FILE_NS}:`, "winston's file transport"],
  ].filter(([prefix]) => !inputs.some((i) => i.startsWith(prefix as string)));
  if (missing.length > 0)
    throw new Error(
      `bundle-lean.ts found no ${missing.map(([, what]) => what).join(' and ')} to load lazily`,
    );
  const main = join(work, 'sea-main.cjs');
  await build({ ...common, entryPoints: [join(root, 'src/bin/sea-main.ts')], outfile: main });
  return { main, agent };
}

/** The agent's bundle asks the main script for early-key.ts instead of carrying its own. */
function earlyKeyFromMain(): Plugin {
  return {
    name: 'client-bootstrap-early-key-from-main',
    setup(b) {
      b.onResolve({ filter: /\/early-key\.ts$/ }, () => ({
        path: EARLY_KEY_MODULE,
        external: true,
      }));
    },
  };
}
