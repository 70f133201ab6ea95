/**
 * The positive control of the leak detector: the secret (and a PRS) planted
 * in every encoding, at every base64 alignment, padded and not, in files
 * and in HTTP requests split across TCP segments, must be found; a
 * different secret planted the same way must not be.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCapture } from './support/capture.ts';
import type { CaptureResult } from './support/capture.ts';
import {
  base64Core,
  describeFindings,
  formsOf,
  scanBytes,
  scanFiles,
  secretNeedles,
} from './support/leak.ts';
import { parseTcpdumpSummary } from './support/capture.ts';
import { tempDir } from './support/procs.ts';

// Not the secret of agent-leak.test.ts: its capture, running at the same time, sees these plantings.
const SECRET = 'Planted-Control-Secret-0xF00D';
const OTHER = 'Other-Secret-Value-0xBEEF';
// Bytes whose base64 has '+' and '/' at every alignment: base64 and base64url differ.
const PRS = Buffer.concat([
  Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0xfe, 0xfb, 0xf8, 0x3f, 0xff]),
  randomBytes(23),
]);

interface Planting {
  readonly name: string;
  readonly text: Buffer;
}

const utf16be = (s: string): Buffer => {
  const le = Buffer.from(s, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2) {
    const a = le[i] as number;
    le[i] = le[i + 1] as number;
    le[i + 1] = a;
  }
  return le;
};

/** How a careless program could write `value`, `align` bytes into whatever it encodes with it. */
function plantings(label: string, value: Buffer): Planting[] {
  const out: Planting[] = [];
  for (const align of [0, 1, 2]) {
    // Bytes before the value set its alignment; bytes after change the last characters.
    const before = Buffer.from('xyz'.slice(0, align));
    for (const after of [Buffer.alloc(0), Buffer.from('!')]) {
      const whole = Buffer.concat([before, value, after]);
      const tail = after.length ? '+suffix' : '';
      for (const [enc, url] of [
        ['base64', false],
        ['base64url', true],
      ] as const) {
        const padded = whole.toString('base64');
        const text = url ? padded.replaceAll('+', '-').replaceAll('/', '_') : padded;
        out.push({ name: `${label} ${enc}@${align} padded${tail}`, text: Buffer.from(text) });
        out.push({
          name: `${label} ${enc}@${align} unpadded${tail}`,
          text: Buffer.from(text.replace(/=+$/, '')),
        });
      }
    }
  }
  out.push(
    { name: `${label} raw`, text: value },
    { name: `${label} hex`, text: Buffer.from(value.toString('hex')) },
    { name: `${label} HEX`, text: Buffer.from(value.toString('hex').toUpperCase()) },
    {
      name: `${label} url-encoded`,
      text: Buffer.from(encodeURIComponent(value.toString('latin1'))),
    },
    {
      name: `${label} percent-every-byte`,
      text: Buffer.from(value.toString('hex').replace(/../g, '%$&').toUpperCase()),
    },
  );
  return out;
}

function allPlantings(secret: string, prs: Buffer): Planting[] {
  return [
    ...plantings('secret', Buffer.from(secret)),
    ...plantings('secret UTF-16LE', Buffer.from(secret, 'utf16le')),
    ...plantings('secret UTF-16BE', utf16be(secret)),
    {
      name: 'secret form-encoded',
      text: Buffer.from(new URLSearchParams({ s: secret }).toString()),
    },
    ...plantings('PRS', prs),
  ];
}

const needles = [...secretNeedles(SECRET), ...formsOf('PRS', PRS)];
const planted = allPlantings(SECRET, PRS);
const decoys = allPlantings(OTHER, randomBytes(32));
/** Which needle found each planting in a file, and which were found in the capture. */
const foundBy = new Map<string, string[]>();
const foundInCapture = new Set<string>();

afterAll(() => {
  const lines = planted.map(
    (p) =>
      `  ${p.name.padEnd(44)} file: ${foundBy.has(p.name) ? 'found' : 'MISSED'}, capture: ${foundInCapture.has(p.name) ? 'found' : 'MISSED'} (${(foundBy.get(p.name) ?? []).join(' ')})`,
  );
  console.log(`leak detector positive control, ${planted.length} plantings:\n${lines.join('\n')}`);
});

describe('the leak detector finds the secret in every form', () => {
  it('base64 cores are substrings of the padded and unpadded encodings at every alignment', () => {
    const v = Buffer.from(SECRET);
    for (const align of [0, 1, 2])
      for (const url of [false, true]) {
        const core = base64Core(v, align, url);
        expect(core.length).toBeGreaterThanOrEqual(Math.floor((v.length * 4) / 3) - 2);
        const whole = Buffer.concat([Buffer.alloc(align, 0x41), v]).toString(
          url ? 'base64url' : 'base64',
        );
        expect(whole).toContain(core);
      }
    for (const align of [0, 1, 2])
      expect(base64Core(PRS, align, false)).not.toBe(base64Core(PRS, align, true));
  });

  it.each(planted.map((p) => [p.name, p] as const))(
    '%s, planted in a file among other bytes',
    (_name, p) => {
      const dir = tempDir('cb-plant-');
      writeFileSync(
        join(dir, 'log.jsonl'),
        Buffer.concat([Buffer.from('{"event":"x","note":"'), p.text, Buffer.from('"}\n')]),
      );
      const { findings, files } = scanFiles([dir], needles);
      expect(files).toBe(1);
      expect(findings.length, `${p.name} was not found`).toBeGreaterThan(0);
      foundBy.set(
        p.name,
        findings.map((f) => `${f.what}/${f.form}`),
      );
    },
  );

  it('finds none of them when a different secret is planted the same way (no false alarm)', () => {
    const haystack = Buffer.concat(decoys.map((d) => Buffer.concat([d.text, Buffer.from('\n')])));
    expect(describeFindings(scanBytes('decoys', haystack, needles))).toBe('');
  });

  it("reads tcpdump's summary and its dropped-packet count", () => {
    expect(
      parseTcpdumpSummary(
        'listening on lo\n12 packets captured\n24 packets received by filter\n3 packets dropped by kernel\n',
      ),
    ).toEqual({ captured: 12, dropped: 3 });
    expect(() => parseTcpdumpSummary('tcpdump: killed\n')).toThrow(/no summary/);
  });
});

describe('the leak detector finds the secret in reassembled TCP streams', () => {
  it('every planting sent in an HTTP request split across two TCP segments is found; raw packets miss them', async () => {
    let received = 0;
    let onData: (() => void) | undefined;
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('data', (d) => {
        received += d.length;
        onData?.();
      });
      s.on('end', () => s.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const capture = await startCapture();
    let result: CaptureResult;
    try {
      for (const [i, p] of planted.entries()) {
        const body = Buffer.concat([Buffer.from('{"note":"'), p.text, Buffer.from('"}')]);
        const head = Buffer.from(
          `POST /v1/register/start HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Planting: ${i}\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        const request = Buffer.concat([head, body]);
        // Split in the middle of the planted text: no segment holds it whole.
        const cut = head.length + 9 + Math.floor(p.text.length / 2);
        const sock = await new Promise<Socket>((resolve, reject) => {
          const c = connect(port, '127.0.0.1', () => resolve(c));
          c.once('error', reject);
        });
        sock.setNoDelay(true);
        sock.resume();
        const until = received + cut;
        const firstArrived = new Promise<void>((r) => {
          onData = () => {
            if (received >= until) r();
          };
        });
        sock.write(request.subarray(0, cut));
        // The second half goes only once the first has arrived: two segments for sure.
        await firstArrived;
        sock.end(request.subarray(cut));
        await new Promise((r) => sock.once('close', r));
      }
    } finally {
      onData = undefined;
      result = await capture.stop();
      for (const s of sockets) s.destroy();
      server.close();
    }
    expect(result.dropped).toBe(0);
    const streams = [...result.streams.values()];
    const missed = planted.filter((p, i) => {
      const stream = streams.find((b) => b.includes(`X-Planting: ${i}\r\n`));
      const hit = stream !== undefined && scanBytes(p.name, stream, needles).length > 0;
      if (hit) foundInCapture.add(p.name);
      return !hit;
    });
    expect(missed.map((p) => p.name)).toEqual([]);
    // Each planting was split: searched packet by packet, none of them is found.
    expect(describeFindings(scanBytes('raw packets', result.raw, needles))).toBe('');
    expect(planted.filter((p) => result.raw.includes(p.text)).map((p) => p.name)).toEqual([]);
  });
});
