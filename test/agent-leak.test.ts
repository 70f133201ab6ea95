import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KDF, Secret, derivePrs, fromB64u } from '../src/protocol/index.ts';
import { runAgent, runAgentInPty } from './support/agent.ts';
import { deploy } from './support/deploy.ts';
import { startCommand, tempDir } from './support/procs.ts';

const SECRET = 'Never-Leak-This-0xC0FFEE';

function needlesFor(values: Buffer[]): string[] {
  return values.flatMap((v) => [
    v.toString('latin1'),
    v.toString('hex'),
    v.toString('base64'),
    v.toString('base64url'),
    encodeURIComponent(v.toString('latin1')),
  ]);
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesBelow(p) : [p];
  });
}

describe('the secret never leaves the agent', () => {
  it('not in logs, output, state files, server or relay data, nor a capture of the loopback traffic', async () => {
    const work = tempDir('cb-leak-');
    const pcap = join(work, 'loopback.pcap');
    const tcpdump = startCommand('tcpdump', ['-i', 'lo', '-U', '-n', '-s', '0', '-w', pcap, 'tcp']);
    await tcpdump.waitFor(/listening on lo/);
    const d = await deploy([SECRET]);
    const outputs: string[] = [];
    const stateRoot = join(work, 'agents');
    const common = (n: string): string[] => [
      '--state-dir',
      join(stateRoot, n),
      '--log-file',
      join(stateRoot, n, 'agent.log'),
      '--log-level',
      'debug',
    ];
    const secretFile = join(work, 'secret.txt');
    writeFileSync(secretFile, `${SECRET}\n`);
    try {
      const runs = [
        await runAgent(['--server', d.server.url, '--secret-file', secretFile, ...common('file')]),
        await runAgent(
          [
            '--relay',
            d.relay.url,
            `--server-id=${d.serverId}`,
            `--server-pin=${d.server.pin}`,
            ...common('env'),
          ],
          { env: { CLIENT_BOOTSTRAP_SECRET: SECRET } },
        ),
        await runAgent([
          '--relay',
          d.relay.url,
          `--server-id=${d.serverId}`,
          `--server-pin=${d.server.pin}`,
          '--secret',
          SECRET,
          ...common('flag'),
        ]),
        await runAgent(['--server', d.server.url, '--secret-file', '-', ...common('stdin')], {
          input: SECRET,
        }),
        await runAgent(
          [
            'check',
            '--server',
            d.server.url,
            '--relay',
            d.relay.url,
            `--server-id=${d.serverId}`,
            ...common('check'),
          ],
          { env: { CLIENT_BOOTSTRAP_SECRET: SECRET } },
        ),
        await runAgent(['--server', d.server.url, ...common('wrong')], {
          env: { CLIENT_BOOTSTRAP_SECRET: `${SECRET}-wrong` },
        }),
        await runAgent([
          '--server',
          d.server.url,
          '--state-dir',
          join(stateRoot, 'file'),
          '--secret',
          SECRET,
          '--force',
          '--bogus-flag',
        ]),
      ];
      for (const r of runs) outputs.push(r.stdout, r.stderr);
      expect(runs.map((r) => r.json.exitCode)).toEqual([0, 0, 0, 0, 0, 4, 2]);
      const pty = await runAgentInPty(['--server', d.server.url, ...common('pty')], [SECRET]);
      expect(pty.code).toBe(0);
      outputs.push(pty.output);
    } finally {
      await d.stop();
      await tcpdump.stop('SIGINT');
    }
    const prs = await derivePrs(Secret.from(SECRET), fromB64u(d.serverId, 'serverId', 16), {
      ...DEFAULT_KDF,
      N: 2 ** 14,
    });
    const secretNeedles = needlesFor([Buffer.from(SECRET, 'utf8'), Buffer.from(SECRET, 'utf16le')]);
    // The server stores the PRS by design; it must appear nowhere else.
    const prsNeedles = needlesFor([prs.use()]);
    const haystacks: [string, string][] = [
      ['packet capture', readFileSync(pcap).toString('latin1')],
      ['outputs', outputs.join('\n')],
      ['server output', d.server.proc.stdout + d.server.proc.stderr],
      ['relay output', d.relay.proc.stdout + d.relay.proc.stderr],
      ...[stateRoot, d.server.dataDir, d.relay.dataDir].flatMap((dir) =>
        filesBelow(dir).map((f): [string, string] => [f, readFileSync(f).toString('latin1')]),
      ),
    ];
    // The capture did see the protocol: the server id travels in every hello.
    expect(readFileSync(pcap).toString('latin1')).toContain(d.serverId);
    expect(haystacks.length).toBeGreaterThan(12);
    for (const [where, text] of haystacks) {
      for (const n of secretNeedles)
        expect(text.includes(n), `the secret appears in ${where}`).toBe(false);
      if (!where.startsWith(d.server.dataDir))
        for (const n of prsNeedles)
          expect(text.includes(n), `the PRS appears in ${where}`).toBe(false);
    }
    // The logs did record the runs.
    expect(readFileSync(join(stateRoot, 'file', 'agent.log'), 'utf8')).toMatch(/register\.saved/);
  });
});
