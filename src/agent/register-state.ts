/**
 * What `register` does with the state directory before it sends anything:
 * takes the lock (as `unregister` does too), reads the state (setting a
 * damaged file aside with --force), and decides what a saved registration
 * means for this run.
 */
import { UserError } from '../common/errors.ts';
import { removeStaleTemps } from '../common/files.ts';
import type { AgentContext } from './context.ts';
import type { StateDir } from './state.ts';
import type { AgentState, Registration } from './state.ts';

/** Whether a saved registration is with the server these settings name. */
export function sameServer(reg: Registration, s: AgentContext['settings']): boolean {
  if (s.serverId !== undefined) return reg.serverId === s.serverId;
  return (
    (s.server !== undefined && reg.serverUrl === s.server) ||
    (s.relay !== undefined && reg.relayUrl === s.relay)
  );
}

/** The saved registration and the server that would replace it, in words. */
function describeReplacement(
  reg: Registration,
  s: AgentContext['settings'],
): { current: string; next: string } {
  const where = [reg.serverUrl, reg.relayUrl].filter(Boolean).join(' / ');
  const at = [s.server, s.relay].filter(Boolean).join(' / ');
  return {
    current: `registered as client ${reg.clientId} with server ${reg.serverId}${where ? ` at ${where}` : ''} (pin ${reg.serverPin})`,
    next: s.serverId ? `server ${s.serverId}${at ? ` at ${at}` : ''}` : `the server at ${at}`,
  };
}

/**
 * Takes the state directory's lock within the deadline, saying on the
 * terminal that it waits for another run and when it takes over a stale
 * lock (register and unregister).
 */
export function lockWithNotices(ctx: AgentContext, stateDir: StateDir): Promise<() => void> {
  return stateDir.lock({
    signal: ctx.deadline.signal,
    deadlineMs: ctx.settings.deadlineMs,
    onWait: (pid) =>
      ctx.reporter.progress(`waiting for another client-bootstrap (pid ${pid}) to finish`),
    onTakeOver: (why) => {
      ctx.reporter.warn(`took over a stale lock: ${why}`);
      ctx.log.warn('state.lock_taken_over', { why });
    },
  });
}

/** Takes the state directory's lock (waiting out another run) and clears a dead run's temporary files. */
export async function lockState(ctx: AgentContext, stateDir: StateDir): Promise<() => void> {
  const release = await lockWithNotices(ctx, stateDir);
  try {
    const stale = removeStaleTemps(stateDir.dir);
    if (stale > 0) ctx.log.info('state.stale_temps_removed', { count: stale });
  } catch (err) {
    release();
    throw err;
  }
  return release;
}

/** The saved state; a damaged file is moved aside only by `register --force`. */
export function readState(ctx: AgentContext, stateDir: StateDir, verifyOnly: boolean): AgentState {
  try {
    return stateDir.readOrInit();
  } catch (err) {
    const setAside =
      err instanceof UserError && err.code === 'corrupt_state' && ctx.settings.force && !verifyOnly;
    if (!setAside) throw err;
    const aside = stateDir.quarantine(new Date(ctx.now()));
    ctx.reporter.warn(`the damaged state file was moved to ${aside}`);
    ctx.log.warn('state.quarantined', { aside });
    return stateDir.readOrInit();
  }
}

/**
 * For `register` with a saved registration: true when it is with this
 * server and nothing should be sent. One with another server is refused
 * unless --force, which replaces it (said on stderr and in the log).
 */
export function alreadyRegistered(ctx: AgentContext, saved: Registration): boolean {
  const s = ctx.settings;
  if (sameServer(saved, s)) {
    if (s.force) return false;
    ctx.log.info('register.already', { clientId: saved.clientId, serverId: saved.serverId });
    return true;
  }
  const { current, next } = describeReplacement(saved, s);
  if (!s.force)
    throw new UserError(
      'registered_elsewhere',
      `${current}; give --force to replace it with ${next}`,
      {
        hint: 'run with --force to register with the new server instead, or correct --server / --server-id',
      },
    );
  ctx.reporter.warn(`--force: replacing the registration (${current}) with ${next}`);
  ctx.log.warn('register.replacing', {
    clientId: saved.clientId,
    serverId: saved.serverId,
    serverPin: saved.serverPin,
    newServer: s.serverId ?? s.server ?? s.relay,
  });
  return false;
}
