/**
 * Audits the secrets that stopped being offered (expired or used up), each
 * once, with why: at the moments it can happen (a registration that used
 * a secret, a start about to offer shares) and at most once a second from
 * the sweep, so a flood of requests does not cost a query each.
 */
import type { Logger } from '../common/log.ts';
import type { ServerStore } from './store-api.ts';

export function createRetiredAudit(deps: {
  readonly store: ServerStore;
  readonly log: Logger;
  readonly now: () => number;
}): { readonly check: () => Promise<void>; readonly sweep: () => Promise<void> } {
  let checkedAt = -Infinity;
  const check = async (): Promise<void> => {
    checkedAt = deps.now();
    const iso = new Date(checkedAt).toISOString();
    for (const r of await deps.store.secrets.takeNewlyRetired(iso)) {
      await deps.store.audit(
        { event: 'secret.retired', outcome: r.reason, reason: r.reason, secretId: r.id },
        iso,
      );
      deps.log.info('secret.retired', { secretId: r.id, reason: r.reason });
    }
  };
  return {
    check,
    sweep: async () => {
      if (deps.now() - checkedAt >= 1000) await check();
    },
  };
}
