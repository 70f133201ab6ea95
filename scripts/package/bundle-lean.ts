/**
 * What the executable's bundle leaves out of the start of every run, each
 * measured with `npm run bench` (peak memory of a registration):
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
 *
 * The plain build (dist/, run by the tests under Node) imports both
 * packages as they are; the executable's tests run this bundle.
 */
import { dirname } from 'node:path';
import type { Plugin } from 'esbuild';

const UNDICI_LEAN = 'client-bootstrap:undici-lean';
const LAZY = 'client-bootstrap:lazy';

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

      // Each importer keeps its own version of string-width (yargs and cliui differ).
      build.onResolve({ filter: /^string-width$/ }, async (args) => {
        if (args.pluginData === LAZY) return undefined;
        const real = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: LAZY,
        });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace: LAZY };
      });
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
