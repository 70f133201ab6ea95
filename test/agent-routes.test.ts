import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from './support/agent.ts';
import type { AgentRun } from './support/agent.ts';
import { droppedRoute, silentListener } from './support/blackhole.ts';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { tempDir } from './support/procs.ts';
import { storedClientIds } from './support/store-counts.ts';

const SECRET = 'Route-Secret-55q';
let d: Deployment;
const PROBE_TIMEOUT_S = 20;
/** The grace period the SPEC gives direct after the relay answers ("about 250 ms"). */
const GRACE_MS = 250;
/** A relay-only registration's own duration, measured in this file: the margin of the timing checks. */
let relayOnlyMs: number;

beforeAll(async () => {
  d = await deploy([SECRET]);
  const runs = [];
  for (let i = 0; i < 2; i++)
    runs.push(
      await runAgent([...agentArgs(d.server.url), '--route', 'relay'], {
        env: { CLIENT_BOOTSTRAP_SECRET: SECRET },
      }),
    );
  relayOnlyMs = Math.max(...runs.map((r) => r.json.durationMs as number));
});
afterAll(async () => {
  await d?.stop();
});

/**
 * A fallback took the grace period, not the probe timeout: direct was given
 * up at least GRACE_MS after the relay answered (by the agent's own
 * account), and the whole run took no longer than a relay-only
 * registration plus the grace period plus a margin of twice that
 * registration, a bound the test checks is far below the probe timeout.
 */
function expectGraceNotTimeout(r: AgentRun): void {
  const direct = (r.json.routes as Route[]).find((x) => x.name === 'direct');
  const waited = /given up (\d+) ms after the relay answered/.exec(direct?.error ?? '');
  expect(waited, JSON.stringify(direct)).not.toBeNull();
  const graceWaited = Number(waited?.[1]);
  expect(graceWaited).toBeGreaterThanOrEqual(GRACE_MS - 5);
  expect(graceWaited).toBeLessThan(GRACE_MS + relayOnlyMs);
  const bound = relayOnlyMs + GRACE_MS + 2 * relayOnlyMs;
  expect(bound).toBeLessThan((PROBE_TIMEOUT_S * 1000) / 2);
  expect(r.json.durationMs as number).toBeLessThanOrEqual(bound);
}

function agentArgs(server: string, relay = d.relay.url, probeTimeout = PROBE_TIMEOUT_S): string[] {
  return [
    '--server',
    server,
    '--relay',
    relay,
    `--server-id=${d.serverId}`,
    `--server-pin=${d.server.pin}`,
    '--probe-timeout',
    String(probeTimeout),
    '--state-dir',
    join(tempDir(), 'state'),
  ];
}

type Route = {
  name: string;
  reachable: boolean;
  error: string | null;
  latencyMs: number | null;
  seenAs: string | null;
};

describe('route choice', () => {
  it('prefers direct when both answer', async () => {
    const r = await runAgent(agentArgs(d.server.url), { env: { CLIENT_BOOTSTRAP_SECRET: SECRET } });
    expect(r.json).toMatchObject({ ok: true, route: 'direct' });
  });

  it('--route relay forces the relay, seen as internet', async () => {
    const r = await runAgent([...agentArgs(d.server.url), '--route', 'relay'], {
      env: { CLIENT_BOOTSTRAP_SECRET: SECRET },
    });
    expect(r.json).toMatchObject({ ok: true, route: 'relay' });
    expect((r.json.routes as Route[]).map((x) => x.name)).toEqual(['relay']);
    expect((r.json.routes as Route[])[0]).toMatchObject({ seenAs: 'internet' });
  });

  it('takes the relay at once when direct is refused, and says why direct failed', async () => {
    const r = await runAgent(agentArgs('http://127.0.0.1:9'), {
      env: { CLIENT_BOOTSTRAP_SECRET: SECRET },
    });
    expect(r.json).toMatchObject({ ok: true, route: 'relay' });
    const direct = (r.json.routes as Route[]).find((x) => x.name === 'direct');
    expect(direct).toMatchObject({ reachable: false });
    expect(direct?.error).toMatch(/refused/);
  });

  it('direct accepts but never answers: the relay after the grace period (plus a measured margin), not the probe timeout', async () => {
    const silent = await silentListener();
    try {
      const r = await runAgent(agentArgs(silent.url), { env: { CLIENT_BOOTSTRAP_SECRET: SECRET } });
      expect(r.json).toMatchObject({ ok: true, route: 'relay' });
      expectGraceNotTimeout(r);
    } finally {
      silent.close();
    }
  });

  it('direct drops packets: the relay after the grace period (plus a measured margin), not the probe timeout', async () => {
    const dropped = droppedRoute();
    try {
      const r = await runAgent(agentArgs(dropped.url), {
        env: { CLIENT_BOOTSTRAP_SECRET: SECRET },
      });
      expect(r.json).toMatchObject({ ok: true, route: 'relay' });
      expectGraceNotTimeout(r);
    } finally {
      dropped.remove();
    }
  });

  it('a silent direct route and a refused relay: exit 5 at the deadline, both reasons named', async () => {
    const silent = await silentListener();
    try {
      const r = await runAgent([
        ...agentArgs(silent.url, 'http://127.0.0.1:10', 1),
        '--deadline',
        '4',
      ]);
      expect(r.json).toMatchObject({ ok: false, exitCode: 5 });
      const routes = r.json.routes as Route[];
      expect(routes.find((x) => x.name === 'direct')?.error).toMatch(/did not answer/);
      expect(routes.find((x) => x.name === 'relay')?.error).toMatch(/refused/);
    } finally {
      silent.close();
    }
  });

  it('check reports every route, with classification and whether a secret is needed', async () => {
    const r = await runAgent(['check', ...agentArgs(d.server.url)]);
    expect(r.json).toMatchObject({ ok: true, exitCode: 0, code: 'reachable' });
    const routes = r.json.routes as (Route & { secretRequired: boolean })[];
    expect(routes).toEqual([
      expect.objectContaining({
        name: 'direct',
        reachable: true,
        seenAs: 'intranet',
        secretRequired: true,
      }),
      expect.objectContaining({
        name: 'relay',
        reachable: true,
        seenAs: 'internet',
        secretRequired: true,
      }),
    ]);
    const verified = await runAgent(['check', ...agentArgs(d.server.url)], {
      env: { CLIENT_BOOTSTRAP_SECRET: SECRET },
    });
    expect(verified.json).toMatchObject({ ok: true, code: 'secret_accepted' });
    const wrong = await runAgent(['check', ...agentArgs(d.server.url)], {
      env: { CLIENT_BOOTSTRAP_SECRET: 'Not-The-Secret-1' },
    });
    expect(wrong.json).toMatchObject({ ok: false, exitCode: 4 });
  });

  it('two copies at once: one registers, the other waits and finds it registered', async () => {
    const stateDir = join(tempDir(), 'state');
    const args = [...agentArgs(d.server.url).slice(0, -2), '--state-dir', stateDir];
    const [a, b] = await Promise.all([
      runAgent(args, { env: { CLIENT_BOOTSTRAP_SECRET: SECRET } }),
      runAgent(args, { env: { CLIENT_BOOTSTRAP_SECRET: SECRET } }),
    ]);
    expect([a.json.code, b.json.code].sort()).toEqual(['already_registered', 'registered']);
    expect(a.json.clientId).toBe(b.json.clientId);
    expect(
      storedClientIds(d.server.dataDir).filter((id) => id === a.json.clientId),
      'one row in the store',
    ).toHaveLength(1);
  });
});
