/**
 * A slow, lossy link on loopback (this kernel has no netem): a TCP proxy
 * that delays every chunk by `delayMs` each way, and a new connection's
 * first bytes by the round trip of TCP's handshake, listening on a 127.x
 * address of its own, and, as root, an iptables rule that drops a share
 * of the packets sent to it at random. Both go at clean-up.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { onCleanup } from './cleanup.ts';

/**
 * Passes on what `from` sends to `to` `delayMs` later, in order, and none of
 * it before `notBefore` (a Date.now() value).
 */
function delayed(from: Socket, to: Socket, delayMs: number, notBefore = 0): void {
  let last = 0;
  const later = (fn: () => void): void => {
    const at = Math.max(Date.now() + delayMs, notBefore, last);
    last = at;
    setTimeout(fn, at - Date.now());
  };
  from.on('data', (chunk: Buffer) =>
    later(() => {
      if (!to.destroyed) to.write(chunk);
    }),
  );
  from.on('end', () => later(() => to.end()));
  from.on('error', () => to.destroy());
  from.on('close', () => later(() => to.destroy()));
}

export async function slowLink(
  upstream: string,
  opts: { delayMs: number; dropPercent: number },
): Promise<{ url: string; lossy: boolean }> {
  const target = new URL(upstream);
  const address = `127.${200 + randomInt(55)}.${randomInt(256)}.${1 + randomInt(254)}`;
  const server = createServer((client) => {
    const up = connect(Number(target.port), target.hostname);
    // The kernel completed the client's connect at once; on a real link its
    // first byte arrives three one-way delays after the SYN was sent (SYN,
    // SYN-ACK, then the data), so a new connection costs a round trip.
    delayed(client, up, opts.delayMs, Date.now() + 3 * opts.delayMs);
    delayed(up, client, opts.delayMs);
  });
  await new Promise<void>((r) => server.listen(0, address, r));
  const { port } = server.address() as { port: number };
  onCleanup(() => {
    server.close();
  });
  let lossy = false;
  if (opts.dropPercent > 0 && process.getuid?.() === 0) {
    const rule = [
      'INPUT',
      '-i',
      'lo',
      '-d',
      address,
      '-p',
      'tcp',
      '--dport',
      String(port),
      '-m',
      'statistic',
      '--mode',
      'random',
      '--probability',
      String(opts.dropPercent / 100),
      '-j',
      'DROP',
    ];
    execFileSync('iptables', ['-I', ...rule]);
    lossy = true;
    onCleanup(() => {
      execFileSync('iptables', ['-D', ...rule]);
    });
  }
  return { url: `http://${address}:${port}`, lossy };
}
