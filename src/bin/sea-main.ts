/**
 * The single executable's main script. It is small on purpose: Node
 * compiles a main script whole before running any of it, and the agent's
 * bundle takes about 40 ms of CPU to compile when there is no code cache
 * (the default build has none; see README). So this script starts the key
 * derivation first (early-key.ts: scrypt in the thread pool), and only then
 * compiles and runs the agent's bundle, which the executable carries as an
 * asset (sea-layout.ts). `--version` answers here without the bundle.
 *
 * Before all that, on Linux, it may re-execute itself once so that glibc
 * puts scrypt's memory on transparent huge pages (huge-pages.ts).
 *
 * The bundle gets this script's instance of early-key.ts (a bundle of its
 * own would have its own, empty one), Node's built-in modules, and nothing
 * else.
 */
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getAsset } from 'node:sea';
import { compileFunction } from 'node:vm';
import * as earlyKey from '../agent/early-key.ts';
import { LOAD_MARKS, MAIN_MARK } from '../agent/timings.ts';
import { VERSION } from '../version.ts';
import { noteReexec, reexecForHugePages } from './huge-pages.ts';
import { hideSensitiveArgs } from './process-title.ts';
import {
  AGENT_ASSET,
  AGENT_CODE_CACHE_ASSET,
  AGENT_PARAMS,
  EARLY_KEY_MODULE,
} from './sea-layout.ts';

const argv = process.argv.slice(2);
hideSensitiveArgs(argv);
// Then this process may replace itself with itself on huge pages, once.
if (!noteReexec(process.env)) reexecForHugePages(argv, process.env, earlyKey.mayDerive);
performance.mark(MAIN_MARK);

/** The bundle's `require`: our early-key.ts, or one of Node's own modules. */
function requireForAgent(id: string): unknown {
  if (id === EARLY_KEY_MODULE) return earlyKey;
  const builtin = process.getBuiltinModule(id);
  if (builtin === undefined)
    throw new Error(`the executable's bundle asks for ${id}, which it does not carry`);
  return builtin;
}

function codeCache(): Buffer | undefined {
  try {
    return Buffer.from(getAsset(AGENT_CODE_CACHE_ASSET));
  } catch {
    return undefined; // the default build carries none
  }
}

function runAgent(): void {
  const cachedData = codeCache();
  performance.mark(LOAD_MARKS.start);
  const agent = compileFunction(getAsset(AGENT_ASSET, 'utf8'), [...AGENT_PARAMS], {
    filename: AGENT_ASSET,
    ...(cachedData ? { cachedData } : {}),
  });
  // Node says the same of a main script's rejected cache; a build test looks for it.
  if (cachedData && agent.cachedDataRejected) process.emitWarning('Code cache data rejected.');
  performance.mark(LOAD_MARKS.end);
  const module = { exports: {} };
  const run = agent as unknown as (...args: unknown[]) => void;
  run(module.exports, requireForAgent, module, process.execPath, dirname(process.execPath));
}

// The commonest probe of an installed agent answers without loading the agent.
if (argv.length === 1 && argv[0] === '--version') process.stdout.write(`${VERSION}\n`);
else {
  earlyKey.startEarlyKey(argv, process.env);
  runAgent();
}
