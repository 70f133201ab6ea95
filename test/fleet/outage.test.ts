/**
 * The fleet on a bad day: NATS stopped during traffic (local tunnels keep
 * working, the others get 503, all recovers when NATS returns); one
 * customer's flood against another's registrations; a server removed or
 * its token wrong, on every instance at once.
 */
import { join } from 'node:path';
import { request } from 'undici';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  registerViaRelay,
  startFleetRelay,
  startFleetServer,
  startNats,
} from '../support/fleet.ts';
import type { FleetRelay, NatsHandle } from '../support/fleet.ts';
import { BIN, runProc, tempDir, writeSecretFile } from '../support/procs.ts';
import { readFileSync } from 'node:fs';

const SECRET = 'Fleet-Outage-Secret-26';

async function json(
  url: string,
  init: Parameters<typeof request>[1] = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, init);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('the fleet on a bad day', () => {
  let nats: NatsHandle;
  let relays: FleetRelay[];
  let secretFile: string;

  beforeAll(async () => {
    nats = await startNats();
    relays = await Promise.all(
      [0, 1, 2].map(() => startFleetRelay(nats.url, ['--max-per-server', '20'])),
    );
    secretFile = writeSecretFile(join(tempDir(), 'secret'), SECRET);
  });

  it('keeps local tunnels working while NATS is down, refuses the rest with 503, and recovers', async () => {
    const { server } = await startFleetServer(nats.url, relays[0]!.url, SECRET);
    expect((await registerViaRelay(relays[1]!.url, server, secretFile)).code).toBe(0);
    await nats.stop();
    onTestFinished(async () => {
      if (nats.proc.child.exitCode !== null || nats.proc.child.signalCode !== null)
        await nats.start();
    });
    for (const r of relays) {
      await expect
        .poll(async () => (await json(`${r.url}/healthz`)).body.status, { timeout: 15_000 })
        .toBe('degraded');
      expect((await json(`${r.url}/readyz`)).status).toBe(503);
    }
    // The instance holding the tunnel still serves it.
    const local = await registerViaRelay(relays[0]!.url, server, secretFile);
    expect(local.code, local.stderr).toBe(0);
    // Another instance cannot reach it: 503 server_offline, which the agent retries (exit 5 at its deadline).
    const hello = await request(`${relays[1]!.url}/v1/servers/${server.serverId}/hello`);
    expect(hello.statusCode).toBe(503);
    expect(hello.headers['retry-after']).toBeDefined();
    expect(((await hello.body.json()) as { error: { code: string } }).error.code).toBe(
      'server_offline',
    );
    // A server this instance has not seen yet cannot be looked up: 503 to retry, not
    // 404 "unknown server" (which would end an agent's run with a configuration error).
    const unseen = await request(`${relays[1]!.url}/v1/servers/${'A'.repeat(22)}/hello`);
    expect(unseen.statusCode).toBe(503);
    expect(unseen.headers['retry-after']).toBeDefined();
    expect(((await unseen.body.json()) as { error: { code: string } }).error.code).toBe(
      'registry_unavailable',
    );
    const remote = await registerViaRelay(relays[1]!.url, server, secretFile, '3');
    // Exit 5 or 8: "retry later" either way, never a permanent code.
    expect([5, 8], JSON.stringify(remote.json)).toContain(remote.code);
    const log = readFileSync(join(relays[1]!.dataDir, 'relay.log'), 'utf8');
    expect(log).toMatch(/fleet\.degraded/);
    await nats.start();
    for (const r of relays)
      await expect
        .poll(async () => (await json(`${r.url}/readyz`)).status, { timeout: 20_000 })
        .toBe(200);
    const again = await registerViaRelay(relays[2]!.url, server, secretFile);
    expect(again.code, again.stderr).toBe(0);
  });

  it("does not let one customer's flood starve another's registrations", async () => {
    const a = await startFleetServer(nats.url, relays[0]!.url, SECRET);
    const b = await startFleetServer(nats.url, relays[0]!.url, SECRET);
    // Customer A's server stops answering (SIGSTOP): its requests pile up at the relay.
    a.server.proc.child.kill('SIGSTOP');
    try {
      const pending = Array.from({ length: 60 }, () =>
        request(`${relays[1]!.url}/v1/servers/${a.server.serverId}/hello`)
          .then(async (res) => ({
            status: res.statusCode,
            code: ((await res.body.json()) as { error?: { code?: string } }).error?.code,
          }))
          .catch(() => ({ status: 0, code: 'network' })),
      );
      // While A's requests are held, B's agent registers through the same instances.
      const okB = await registerViaRelay(relays[1]!.url, b.server, secretFile);
      expect(okB.code, okB.stderr).toBe(0);
      a.server.proc.child.kill('SIGCONT');
      const answers = await Promise.all(pending);
      const busy = answers.filter((x) => x.status === 503 && x.code === 'relay_busy').length;
      // At most 20 held for A (the per-server limit); the rest refused at once with relay_busy.
      expect(busy).toBeGreaterThanOrEqual(40);
      expect(answers.filter((x) => x.status === 200).length).toBeLessThanOrEqual(20);
    } finally {
      a.server.proc.child.kill('SIGCONT');
    }
  });

  it('shares the registry: a wrong token is refused everywhere, a removed server everywhere', async () => {
    const { server } = await startFleetServer(nats.url, relays[0]!.url, SECRET);
    for (const r of relays) {
      const wrong = await request(`${r.url}/v1/tunnel/${server.serverId}/poll`, {
        method: 'POST',
        headers: { authorization: 'Bearer not-the-token', 'content-type': 'application/json' },
        body: '{}',
      });
      expect(wrong.statusCode).toBe(401);
      await wrong.body.dump();
    }
    const removed = await runProc(BIN.relay, [
      'remove-server',
      '--nats',
      nats.url,
      `--server-id=${server.serverId}`,
    ]);
    expect(removed.code, removed.stderr).toBe(0);
    for (const r of relays)
      await expect
        .poll(async () => (await json(`${r.url}/v1/servers/${server.serverId}/hello`)).body.error, {
          timeout: 10_000,
        })
        .toMatchObject({ code: 'unknown_server' });
    await expect.poll(() => server.proc.stderr, { timeout: 15_000 }).toMatch(/tunnel token|401/);
    const again = await runProc(BIN.relay, [
      'remove-server',
      '--nats',
      nats.url,
      `--server-id=${server.serverId}`,
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/does not know server/);
  });

  it('says so at once when an admin command cannot reach NATS', async () => {
    const r = await runProc(
      BIN.relay,
      ['add-server', '--nats', 'nats://127.0.0.1:9', '--server-id=AAAAAAAAAAAAAAAAAAAAAA'],
      { timeoutMs: 20_000 },
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/cannot reach NATS at nats:\/\/127\.0\.0\.1:9/);
  });
});
