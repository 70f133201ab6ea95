/** Routes that fail in the ways real networks do, on loopback only. */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { onCleanup } from './cleanup.ts';

/** A TCP listener that accepts connections and never answers. */
export async function silentListener(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const close = (): void => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  const unregister = onCleanup(close);
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      void unregister();
    },
  };
}

/**
 * An address whose packets are dropped (iptables on a 127.x address and port
 * chosen for this call): connecting gets no answer at all, like a
 * blackholed route. The rule is removed by `remove()`, and in any case at
 * clean-up, even when the test fails.
 */
export function droppedRoute(): { url: string; address: string; port: number; remove(): void } {
  const rand = (n: number): number => randomInt(n);
  // 127.200-254.x.y: away from the 127.0.0.x addresses other tests bind.
  const address = `127.${200 + rand(55)}.${rand(256)}.${1 + rand(254)}`;
  const port = 20_000 + rand(40_000);
  const rule = ['INPUT', '-p', 'tcp', '-d', address, '--dport', String(port), '-j', 'DROP'];
  execFileSync('iptables', ['-I', ...rule], { stdio: 'pipe', timeout: 10_000 });
  let present = true;
  const removeRule = (): void => {
    if (!present) return;
    present = false;
    execFileSync('iptables', ['-D', ...rule], { stdio: 'pipe', timeout: 10_000 });
  };
  const unregister = onCleanup(removeRule);
  return {
    url: `http://${address}:${port}`,
    address,
    port,
    remove() {
      removeRule();
      void unregister();
    },
  };
}
