/** A tcpdump capture of loopback TCP traffic, read back as reassembled streams. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { readPcap, reassemble } from './pcap.ts';
import { startCommand, tempDir } from './procs.ts';

export interface CaptureResult {
  readonly file: string;
  readonly packets: number;
  /** tcpdump's own counts from its exit summary. */
  readonly captured: number;
  readonly dropped: number;
  readonly raw: Buffer;
  readonly streams: Map<string, Buffer>;
}

/** The counts tcpdump prints on exit; throws when the summary is missing. */
export function parseTcpdumpSummary(stderr: string): { captured: number; dropped: number } {
  const captured = /(\d+) packets? captured/.exec(stderr);
  const dropped = /(\d+) packets? dropped by kernel/.exec(stderr);
  if (!captured || !dropped) throw new Error(`tcpdump printed no summary:\n${stderr}`);
  return { captured: Number(captured[1]), dropped: Number(dropped[1]) };
}

/**
 * Starts capturing every TCP packet on the loopback interface. `stop()`
 * ends the capture and fails when the kernel dropped any packet or the
 * reassembled streams have a hole: a capture with holes cannot prove that
 * nothing leaked.
 */
export async function startCapture(): Promise<{ stop(): Promise<CaptureResult> }> {
  const file = join(tempDir('cb-capture-'), 'loopback.pcap');
  const tcpdump = startCommand('tcpdump', [
    '-i',
    'lo',
    '-U',
    '-n',
    '-s',
    '0',
    '-B',
    '16384',
    '-w',
    file,
    'tcp',
  ]);
  await tcpdump.waitFor(/listening on lo/);
  return {
    async stop() {
      // Everything sent before now is in the file once a marker sent now is.
      await sendMarkerAndWait(file);
      await tcpdump.stop('SIGINT');
      const { captured, dropped } = parseTcpdumpSummary(tcpdump.stderr);
      if (dropped > 0) throw new Error(`tcpdump: ${dropped} packets dropped by kernel`);
      const cap = readPcap(file);
      const streams = reassemble(cap.segments);
      const holes = [...streams].filter(([, s]) => s.includes('\n[gap of '));
      if (holes.length > 0)
        throw new Error(`the capture missed bytes of ${holes.map(([f]) => f).join(', ')}`);
      return { file, packets: cap.packets, captured, dropped, raw: cap.raw, streams };
    },
  };
}

/** Sends a random marker over loopback and waits (bounded) until the capture file holds it. */
async function sendMarkerAndWait(file: string, timeoutMs = 15_000): Promise<void> {
  const marker = randomBytes(16).toString('hex');
  const server = createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => c.end(`capture-marker ${marker}`));
      c.on('error', reject);
      c.on('close', () => resolve());
      c.resume();
    });
    const deadline = Date.now() + timeoutMs;
    while (!readFileSync(file).includes(marker)) {
      if (Date.now() > deadline)
        throw new Error(`the capture did not record a marker within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    server.close();
  }
}
