/** Routes that fail in the ways real networks do, on loopback only. */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** A TCP listener that accepts connections and never answers. */
export async function silentListener(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * An address whose packets are dropped (iptables on a 127.x address of
 * our own): connecting gets no answer at all, like a blackholed route.
 */
export function droppedRoute(
  address = '127.0.0.77',
  port = 18_777,
): { url: string; remove(): void } {
  const rule = ['INPUT', '-p', 'tcp', '-d', address, '--dport', String(port), '-j', 'DROP'];
  execFileSync('iptables', ['-I', ...rule]);
  return {
    url: `http://${address}:${port}`,
    remove() {
      execFileSync('iptables', ['-D', ...rule]);
    },
  };
}
