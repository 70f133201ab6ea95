import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KDF, Secret, derivePrs, fromB64u } from '../src/protocol/index.ts';
import { runAgent, runAgentInPty } from './support/agent.ts';
import { startCapture } from './support/capture.ts';
import type { CaptureResult } from './support/capture.ts';
import { deploy } from './support/deploy.ts';
import type { Finding } from './support/leak.ts';
import { describeFindings, formsOf, scanBytes, scanFiles, secretNeedles } from './support/leak.ts';
import { tempDir, writeSecretFile } from './support/procs.ts';

const SECRET = 'Never-Leak-This-0xC0FFEE';
// These runs derive their key early, as deployed agents do (see support/agent.ts).
process.env.CB_TEST_EARLY_KEY = '1';

describe('the secret never leaves the agent', () => {
  it('not in logs, output, state files, server or relay data, nor a capture of the loopback traffic', async () => {
    const work = tempDir('cb-leak-');
    const capture = await startCapture();
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
    const secretFile = writeSecretFile(join(work, 'secret.txt'), `${SECRET}\n`);
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
    }
    // Fails when the kernel dropped packets or a stream has a hole.
    const cap: CaptureResult = await capture.stop();
    const prs = await derivePrs(Secret.from(SECRET), fromB64u(d.serverId, 'serverId', 16), {
      ...DEFAULT_KDF,
      N: 2 ** 14,
    });
    // Every form of the secret (UTF-8, UTF-16LE/BE; raw, hex, base64 and
    // base64url at each alignment, URL-encoded); the PRS in every form too:
    // the server stores it by design, so only the server's data may hold it.
    const secret = secretNeedles(SECRET);
    const prsForms = formsOf('PRS', prs.use());
    const findings: Finding[] = [
      ...scanBytes('outputs', Buffer.from(outputs.join('\n')), [...secret, ...prsForms]),
      ...scanBytes('server output', Buffer.from(d.server.proc.stdout + d.server.proc.stderr), [
        ...secret,
        ...prsForms,
      ]),
      ...scanBytes('relay output', Buffer.from(d.relay.proc.stdout + d.relay.proc.stderr), [
        ...secret,
        ...prsForms,
      ]),
      ...scanBytes('capture, raw packets', cap.raw, [...secret, ...prsForms]),
      ...[...cap.streams].flatMap(([flow, bytes]) =>
        scanBytes(`capture, TCP stream ${flow}`, bytes, [...secret, ...prsForms]),
      ),
    ];
    const agentAndRelayFiles = scanFiles([stateRoot, d.relay.dataDir], [...secret, ...prsForms]);
    const serverFiles = scanFiles([d.server.dataDir], secret);
    findings.push(...agentAndRelayFiles.findings, ...serverFiles.findings);
    expect(describeFindings(findings)).toBe('');
    // The capture did see the protocol: TCP streams to the server and the
    // relay, each with the server id in its hellos.
    expect(cap.dropped).toBe(0);
    const withServerId = [...cap.streams.values()].filter((b) => b.includes(d.serverId));
    expect(withServerId.length).toBeGreaterThan(10);
    expect(agentAndRelayFiles.files + serverFiles.files).toBeGreaterThan(12);
    // The server does hold the PRS in its store: the detector would see it there.
    expect(
      scanFiles([d.server.dataDir], prsForms).findings.length,
      'the PRS is expected in the server store',
    ).toBeGreaterThan(0);
    // The logs did record the runs.
    expect(readFileSync(join(stateRoot, 'file', 'agent.log'), 'utf8')).toMatch(/register\.saved/);
  });
});
