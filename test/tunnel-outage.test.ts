/**
 * The tunnel after a relay outage: the server probes the relay on a short
 * shared schedule (one poller, not four backing off on their own), comes
 * back within a couple of seconds of the relay, and logs how long it was
 * down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { deploy } from './support/deploy.ts';
import { startRelay } from './support/procs.ts';
import { register } from './support/wire-client.ts';

const SECRET = 'Tunnel-Outage-2026';

describe('the tunnel after a relay outage', () => {
  it('comes back on its own and logs how long it was down', async () => {
    const d = await deploy([SECRET]);
    let again: Awaited<ReturnType<typeof startRelay>> | undefined;
    try {
      await d.relay.proc.stop('SIGKILL');
      await d.server.proc.waitFor(/tunnel\.down/);
      // An outage long enough for exponential backoff to have grown to many seconds.
      await sleep(8_000);
      const { port } = new URL(d.relay.url);
      again = await startRelay({ dataDir: d.relay.dataDir, listen: `127.0.0.1:${port}` });
      const relayUp = Date.now();
      const [line] = await d.server.proc.waitFor(
        /tunnel\.up \{[^\n]*"downMs":(\d+)[^\n]*\}/,
        15_000,
      );
      const downMs = Number(/"downMs":(\d+)/.exec(line)?.[1]);
      expect(downMs).toBeGreaterThanOrEqual(8_000);
      console.log(
        `tunnel: down ${downMs} ms; back ${Date.now() - relayUp} ms (upper bound) after the relay listened`,
      );
      const out = await register(d.routes.relay, { secret: SECRET, pin: d.server.pin });
      expect(out.ok).toBe(true);
    } finally {
      await again?.proc.stop();
      await d.stop();
    }
  });
});
