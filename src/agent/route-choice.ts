/**
 * Which route wins, as a pure decision over what the probes have said so
 * far: direct is preferred and taken as soon as it answers; a relay answer
 * waits a short grace for direct; failure of both ends the probing.
 */
export type RouteName = 'direct' | 'relay';

export type ProbeState = 'pending' | 'ok' | 'failed' | 'absent';

export type Decision =
  | { readonly kind: 'wait' }
  | { readonly kind: 'start-grace' }
  | { readonly kind: 'take'; readonly route: RouteName; readonly why: string }
  | { readonly kind: 'none' };

/** Decides given each route's state and whether the grace period has run out. */
export function decideRoute(
  direct: ProbeState,
  relay: ProbeState,
  graceExpired: boolean,
): Decision {
  if (direct === 'ok')
    return {
      kind: 'take',
      route: 'direct',
      why: relay === 'absent' ? 'the only route' : 'direct is preferred',
    };
  if (relay === 'ok') {
    if (direct === 'pending')
      return graceExpired
        ? { kind: 'take', route: 'relay', why: 'direct did not answer within the grace period' }
        : { kind: 'start-grace' };
    return {
      kind: 'take',
      route: 'relay',
      why: direct === 'absent' ? 'the only route' : 'direct failed',
    };
  }
  if (direct === 'pending' || relay === 'pending') return { kind: 'wait' };
  return { kind: 'none' };
}
