/**
 * Whom TLS trusts: Node's bundled roots, plus --ca-file, plus with
 * --ca-system the operating system's store (where Windows GPO and
 * enterprise tooling put their CAs). Never NODE_EXTRA_CA_CERTS.
 */
import * as tls from 'node:tls';
import { UserError } from '../common/errors.ts';

/** Where Linux distributions keep the system bundle (OpenSSL's own default first). */
export const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // RHEL, Fedora
  '/etc/ssl/ca-bundle.pem', // SUSE
  '/etc/ssl/cert.pem', // macOS, BSD, Alpine
];

export interface TrustInputs {
  readonly caFile?: string;
  readonly caSystem: boolean;
  readonly sslCertFile?: string;
  readonly platform: NodeJS.Platform;
  readonly readFile: (path: string) => string;
  /** The runtime's system-store reader: tls.getCACertificates('system') where it exists (Node >= 22.15). */
  readonly systemStore?: (() => readonly string[]) | undefined;
}

/** The runtime's system-store API, when it has one. */
export function runtimeSystemStore(): (() => readonly string[]) | undefined {
  const get = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  return typeof get === 'function' ? () => get('system') : undefined;
}

function readCaFile(path: string, readFile: (p: string) => string): string {
  let pem: string;
  try {
    pem = readFile(path);
  } catch (err) {
    throw new UserError(
      'usage',
      `cannot read --ca-file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: err, hint: 'give --ca-file a readable PEM file with the CA certificate' },
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new UserError('usage', `--ca-file ${path} holds no PEM certificate`, {
      hint: 'give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)',
    });
  return pem;
}

/** The system's roots on a runtime without the API: the distribution's bundle file (Linux only). */
function readSystemBundle(i: TrustInputs): string[] {
  if (i.platform !== 'linux')
    throw new UserError(
      'usage',
      `--ca-system needs the packaged agent on ${i.platform} (this Node.js ${process.version} cannot read the system store)`,
      { hint: 'run the packaged client-bootstrap executable, or give the CA with --ca-file' },
    );
  const paths = i.sslCertFile ? [i.sslCertFile] : SYSTEM_BUNDLES;
  for (const path of paths) {
    let pem: string;
    try {
      pem = i.readFile(path);
    } catch {
      continue;
    }
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (certs && certs.length > 0) return certs;
  }
  throw new UserError(
    'usage',
    `--ca-system found no system certificate bundle (looked in ${paths.join(', ')})`,
    { hint: 'install the ca-certificates package, set SSL_CERT_FILE, or give --ca-file' },
  );
}

/** The list of trusted roots for the run. */
export function trustedRoots(i: TrustInputs): string[] {
  const roots = [...tls.rootCertificates];
  if (i.caSystem) roots.push(...(i.systemStore ? i.systemStore() : readSystemBundle(i)));
  if (i.caFile) roots.push(readCaFile(i.caFile, i.readFile));
  return roots;
}
