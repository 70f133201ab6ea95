/**
 * Herds of agents through nginx and three relay instances: all registered
 * exactly once; then a herd while the instance holding the tunnel is killed
 * with SIGKILL halfway: every agent ends registered or with a retryable
 * code, none registered twice, and the tunnel comes back.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { startFleetRelay, startFleetServer, startNats, startNginx } from '../support/fleet.ts';
import type { FleetRelay, NginxHandle } from '../support/fleet.ts';
import { runHerd } from '../support/herd.ts';
import type { ServerHandle } from '../support/procs.ts';

const SECRET = 'Fleet-Herd-Secret-2026';
const CLIENTS = Number(process.env.FLEET_HERD_CLIENTS ?? 10_000);
const CONCURRENCY = 500;

/** Rows per machine of one herd, counted in SQL with no limit. */
function storeRows(
  dataDir: string,
  label: string,
): { rows: number; machines: number; ids: number } {
  const db = new Database(join(dataDir, 'server.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        `SELECT COUNT(*) AS rows, COUNT(DISTINCT hostname) AS machines, COUNT(DISTINCT client_id) AS ids
           FROM clients WHERE hostname LIKE ? || '-%'`,
      )
      .get(label) as { rows: number; machines: number; ids: number };
  } finally {
    db.close();
  }
}

describe('a herd through nginx and three relay instances', () => {
  let relays: FleetRelay[];
  let lb: NginxHandle;
  let server: ServerHandle;

  beforeAll(async () => {
    const nats = await startNats();
    relays = await Promise.all([0, 1, 2].map(() => startFleetRelay(nats.url)));
    lb = await startNginx(relays.map((r) => r.port));
    // The server's tunnel goes through the load balancer, as in production.
    ({ server } = await startFleetServer(nats.url, lb.url, SECRET));
  });

  it(`registers ${CLIENTS} agents, each exactly once`, async () => {
    const herd = await runHerd({
      relayUrl: lb.url,
      serverId: server.serverId,
      pin: server.pin,
      secret: SECRET,
      clients: CLIENTS,
      concurrency: CONCURRENCY,
      label: 'calm',
    });
    const failures = [...herd.failures.values()];
    expect(failures, JSON.stringify(failures.slice(0, 5))).toEqual([]);
    expect(herd.ids.size).toBe(CLIENTS);
    expect(new Set(herd.ids.values()).size).toBe(CLIENTS);
    expect(storeRows(server.dataDir, 'calm')).toEqual({
      rows: CLIENTS,
      machines: CLIENTS,
      ids: CLIENTS,
    });
    console.log(`fleet herd: ${CLIENTS} in ${herd.seconds.toFixed(1)} s, ${herd.retries} retries`);
  });

  it('survives the instance holding the tunnel killed halfway', async () => {
    // Which instances the tunnel polled within the last 2 s, sampled all along.
    let held: number[] = relays.map(() => 0);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        held = await Promise.all(
          relays.map(async (r) => {
            try {
              const res = await request(`${r.url}/healthz`);
              return ((await res.body.json()) as { tunnelsActive: number }).tunnelsActive;
            } catch {
              return 0;
            }
          }),
        );
        await sleep(100);
      }
    })();
    let victim: FleetRelay | undefined;
    let killedAt = 0;
    const logBefore = server.proc.stderr.length;
    const herd = await runHerd({
      relayUrl: lb.url,
      serverId: server.serverId,
      pin: server.pin,
      secret: SECRET,
      clients: CLIENTS,
      concurrency: CONCURRENCY,
      label: 'storm',
      onEnded: (ended) => {
        if (ended === Math.floor(CLIENTS / 2) && !killedAt) {
          killedAt = Date.now();
          victim =
            relays[
              Math.max(
                0,
                held.findIndex((n) => n > 0),
              )
            ];
          victim!.proc.child.kill('SIGKILL');
        }
      },
    });
    sampling = false;
    await sampler;
    expect(killedAt).toBeGreaterThan(0);
    const failures = [...herd.failures.values()];
    // Every agent ends registered or with a code the agent retries (exit 5 or 8, never 2, 3, 6, 7).
    expect(failures.filter((f) => !f.retryable)).toEqual([]);
    expect(herd.ids.size + herd.failures.size).toBe(CLIENTS);
    const rows = storeRows(server.dataDir, 'storm');
    // None registered twice: one row per machine, and every agent told an id has its row.
    expect(rows.rows).toBe(rows.machines);
    expect(rows.ids).toBe(rows.rows);
    expect(rows.rows).toBeGreaterThanOrEqual(herd.ids.size);
    expect(new Set(herd.ids.values()).size).toBe(herd.ids.size);
    const after = server.proc.stderr.slice(logBefore);
    const back = /tunnel\.up[^\n]*"downMs":(\d+)/.exec(after);
    const dropped = /tunnel\.down/.test(after);
    console.log(
      `fleet herd with a killed instance: ${herd.ids.size} registered, ${failures.length} gave up (${[
        ...new Set(failures.map((f) => f.code)),
      ].join(
        ', ',
      )}), ${herd.retries} retries, ${herd.seconds.toFixed(1)} s; ${dropped ? `tunnel back after ${back?.[1] ?? '(not yet)'} ms` : 'the tunnel never dropped'}`,
    );
  });
});
