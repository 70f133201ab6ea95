/**
 * The relay as a fleet: three instances joined by NATS behind nginx.
 * Requests that land on an instance without the server's tunnel travel
 * over NATS; the registry is shared; each instance reports its health.
 */
import { join } from 'node:path';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.ts';
import {
  registerViaRelay,
  startFleetRelay,
  startFleetServer,
  startNats,
  startNginx,
} from '../support/fleet.ts';
import type { FleetRelay, NatsHandle, NginxHandle } from '../support/fleet.ts';
import { tempDir, writeSecretFile } from '../support/procs.ts';
import type { ServerHandle } from '../support/procs.ts';

const SECRET = 'Fleet-Secret-2026-Q';

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('the relay as a fleet', () => {
  let nats: NatsHandle;
  let relays: FleetRelay[];
  let lb: NginxHandle;
  let server: ServerHandle;
  let secretFile: string;

  beforeAll(async () => {
    nats = await startNats();
    relays = await Promise.all([0, 1, 2].map(() => startFleetRelay(nats.url)));
    lb = await startNginx(relays.map((r) => r.port));
    // The server's tunnel goes to instance 0 only: every request landing on 1 or 2 must cross NATS.
    ({ server } = await startFleetServer(nats.url, relays[0]!.url, SECRET));
    secretFile = writeSecretFile(join(tempDir(), 'secret'), SECRET);
  });

  it('registers an agent whose requests land on an instance that does not hold the tunnel', async () => {
    for (const other of [relays[1]!, relays[2]!]) {
      const r = await registerViaRelay(other.url, server, secretFile);
      expect(r.code, `${r.stderr}\n${JSON.stringify(r.json)}`).toBe(0);
      expect(r.json.route).toBe('relay');
    }
    const metrics = await request(`${relays[1]!.url}/metrics`);
    const text = await metrics.body.text();
    expect(text).toMatch(/relay_client_requests_total\{path="fleet"\} [1-9]/);
  });

  it('answers /healthz, /readyz and the tunnel status for the whole fleet', async () => {
    for (const r of relays) {
      const h = await getJson(`${r.url}/healthz`);
      expect(h.status).toBe(200);
      expect(h.body).toMatchObject({ status: 'ok', mode: 'fleet', nats: 'connected' });
      const ready = await getJson(`${r.url}/readyz`);
      expect(ready).toMatchObject({ status: 200, body: { ready: true } });
      const st = await getJson(`${r.url}/v1/servers/${server.serverId}/status`);
      expect(st.body).toEqual({ online: true });
    }
  });

  it('registers through nginx, direct route silent', async () => {
    const r = await runAgent([
      'register',
      '--relay',
      lb.url,
      '--server',
      'http://127.0.0.1:9',
      '--server-id',
      server.serverId,
      '--server-pin',
      server.pin,
      '--secret-file',
      secretFile,
      '--state-dir',
      join(tempDir(), 'state'),
      '--deadline',
      '30',
      '--probe-timeout',
      '1',
    ]);
    expect(r.code, `${r.stderr}\n${JSON.stringify(r.json)}`).toBe(0);
    expect(r.json.route).toBe('relay');
  });

  it('moves a tunnel through nginx to the other instances when the ones holding it die', async () => {
    // A second server whose tunnel goes through nginx; its four polls park on some instances.
    const { server: second } = await startFleetServer(nats.url, lb.url, SECRET);
    const serverId = second.serverId;
    const held = async (): Promise<number[]> =>
      Promise.all(
        relays.map(async (r) => {
          try {
            return ((await getJson(`${r.url}/healthz`)).body.tunnelsHeld as number) ?? 0;
          } catch {
            return -1;
          }
        }),
      );
    // Both servers poll: server 1 only instance 0, this one wherever nginx sent its polls.
    await expect.poll(async () => (await held()).reduce((a, b) => a + b, 0)).toBeGreaterThan(1);
    const counts = await held();
    // Kill every instance but one that holds a poll of this server (never instance 0, server 1's).
    const victims = relays.filter((r, i) => i > 0 && (counts[i] ?? 0) > 0);
    if (victims.length === 0) victims.push(relays[1]!);
    const logBefore = second.proc.stderr.length;
    const killedAt = Date.now();
    for (const v of victims) v.proc.child.kill('SIGKILL');
    const r = await runAgent([
      'register',
      '--relay',
      lb.url,
      '--server-id',
      serverId,
      '--server-pin',
      second.pin,
      '--route',
      'relay',
      '--secret-file',
      secretFile,
      '--state-dir',
      join(tempDir(), 'state'),
      '--deadline',
      '60',
    ]);
    const registeredAfter = Date.now() - killedAt;
    expect(r.code, `${r.stderr}\n${JSON.stringify(r.json)}`).toBe(0);
    const after = second.proc.stderr.slice(logBefore);
    const back = /tunnel\.up[^\n]*"downMs":(\d+)/.exec(after);
    console.log(
      `killed ${victims.length} instance(s) holding polls: ${/tunnel\.down/.test(after) ? `tunnel down, back after ${back?.[1] ?? '?'} ms` : 'the tunnel never dropped'}; an agent registered through nginx ${registeredAfter} ms after the kill`,
    );
  });
});
