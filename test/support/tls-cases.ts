/**
 * Server certificates that fail in each way a user meets (expired, not yet
 * valid, issued for another name, from an unknown CA), made with openssl
 * in a temporary directory. `openssl ca` sets any validity dates.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './procs.ts';

export interface TestCa {
  readonly dir: string;
  readonly caCert: string;
  /** Issues a server certificate; dates as openssl's YYYYMMDDHHMMSSZ. */
  issue(opts: { name: string; san: string; start?: string; end?: string }): {
    cert: string;
    key: string;
  };
}

const ssl = (args: string[]): void =>
  void execFileSync('openssl', args, { stdio: 'pipe', timeout: 30_000 });

/** openssl's date form for now + `days`. */
export function opensslDate(days: number): string {
  return `${new Date(Date.now() + days * 86_400_000).toISOString().replace(/[-:T]|\.\d+/g, '')}`;
}

export function makeTestCa(label = 'client-bootstrap failure-test CA'): TestCa {
  const dir = tempDir('cb-tlsca-');
  const p = (f: string): string => join(dir, f);
  mkdirSync(p('issued'));
  writeFileSync(p('index.txt'), '');
  writeFileSync(p('serial'), '1000\n');
  writeFileSync(
    p('ca.cnf'),
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir/issued',
      'certificate = $dir/ca.pem',
      'private_key = $dir/ca.key',
      'serial = $dir/serial',
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  ssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '2',
    '-subj',
    `/CN=${label}`,
  ]);
  let n = 0;
  return {
    dir,
    caCert: p('ca.pem'),
    issue({ name, san, start = opensslDate(-1), end = opensslDate(2) }) {
      n += 1;
      const base = p(`server-${n}`);
      ssl([
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
        '-subj',
        `/CN=${name}`,
      ]);
      writeFileSync(`${base}.ext`, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
      ssl([
        'ca',
        '-batch',
        '-notext',
        '-config',
        p('ca.cnf'),
        '-in',
        `${base}.csr`,
        '-out',
        `${base}.pem`,
        '-startdate',
        start,
        '-enddate',
        end,
        '-extfile',
        `${base}.ext`,
      ]);
      return { cert: `${base}.pem`, key: `${base}.key` };
    },
  };
}
