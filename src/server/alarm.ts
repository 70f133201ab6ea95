/**
 * The server-wide guessing alarm: raised when failed guesses across every
 * source in the last hour reach the threshold, cleared when they fall
 * below half of it. Recorded as a setting (so `auth show` and the admin
 * page see it) and in the audit; it locks nobody out.
 */
import type { Logger } from '../common/log.ts';
import type { ServerStore } from './store-api.ts';

/** The setting that records the server-wide guessing alarm. */
export const ALARM_SETTING = 'guess_alarm';

export interface AlarmState {
  readonly active: boolean;
  readonly raisedAt: string;
  readonly clearedAt?: string;
  readonly failedLastHour: number;
  readonly threshold: number;
}

/** The alarm as last recorded; null when never raised or unreadable. */
export async function readAlarm(store: ServerStore): Promise<AlarmState | null> {
  const text = await store.getSetting(ALARM_SETTING);
  if (text === undefined) return null;
  try {
    const v = JSON.parse(text) as AlarmState;
    return typeof v === 'object' && v !== null && typeof v.active === 'boolean' ? v : null;
  } catch {
    return null;
  }
}

/** Returns the check to run after each failed guess (and, with `onlyClear`, on each sweep). */
export function createAlarmCheck(deps: {
  store: ServerStore;
  /** Failed guesses in the hour up to a time, over every source (and instance). */
  lastHour: (now: number) => Promise<number>;
  threshold: number;
  log: Logger;
  iso: () => string;
}): (now: number, onlyClear?: boolean) => Promise<void> {
  const { store, log, iso, threshold } = deps;
  // Read on first use: another instance may have raised it since.
  let alarmActive: boolean | undefined;
  return async (now, onlyClear = false) => {
    alarmActive ??= (await readAlarm(store))?.active === true;
    if (onlyClear && !alarmActive) return;
    const failedLastHour = await deps.lastHour(now);
    const raise = !alarmActive && failedLastHour >= threshold;
    const clear = alarmActive && failedLastHour < threshold / 2;
    if (!raise && !clear) return;
    alarmActive = raise;
    const previous = await readAlarm(store);
    const state: AlarmState = raise
      ? { active: true, raisedAt: iso(), failedLastHour, threshold }
      : {
          active: false,
          raisedAt: previous?.raisedAt ?? iso(),
          clearedAt: iso(),
          failedLastHour,
          threshold,
        };
    await store.setSetting(ALARM_SETTING, JSON.stringify(state));
    await store.audit(
      {
        event: 'alarm',
        outcome: raise ? 'raised' : 'cleared',
        reason: `${failedLastHour} failed guesses in the last hour (threshold ${threshold})`,
      },
      iso(),
    );
    if (raise) log.warn('guess.alarm', { failedLastHour, threshold });
    else log.info('guess.alarm_cleared', { failedLastHour, threshold });
  };
}
