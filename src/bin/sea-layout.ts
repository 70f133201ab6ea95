/**
 * How the single executable is laid out (scripts/package.ts builds it,
 * src/bin/sea-main.ts runs it): a small main script that starts the key
 * derivation, and the agent's bundle as an asset it then compiles.
 */

/** The SEA asset holding the agent's bundle (src/bin/client-bootstrap.ts). */
export const AGENT_ASSET = 'client-bootstrap.cjs';

/** The asset holding V8's code cache of that bundle (only in `--code-cache` builds). */
export const AGENT_CODE_CACHE_ASSET = 'client-bootstrap.cjs.cache';

/**
 * The id under which the agent's bundle asks for src/agent/early-key.ts:
 * the main script hands it its own instance of that module, so that the
 * derivation it started is the one the run takes.
 */
export const EARLY_KEY_MODULE = 'client-bootstrap:early-key';

/** The parameters the bundle is compiled with, as Node wraps a CommonJS module. */
export const AGENT_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'] as const;
