/**
 * What makes the Windows executable ours rather than node.exe: its version
 * resources and icon (what SCCM inventory, Intune file-version rules and EDR
 * allow-lists read), and an Authenticode signature over the finished file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { NtExecutable, NtExecutableResource, Data, Resource } from 'resedit';
import { BuildError } from './runtimes.ts';

export interface ProductInfo {
  readonly version: string;
  readonly productName: string;
  readonly description: string;
  readonly company: string;
  readonly copyright: string;
  readonly fileName: string;
}

const LANG_EN_US = 1033;
const CODEPAGE_UNICODE = 1200;

/** "1.2.3-rc.1" -> [1, 2, 3, 0]; the fixed version fields hold four 16-bit numbers. */
export function versionQuad(version: string): [number, number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) throw new BuildError(`package.json version ${version} is not major.minor.patch`);
  const parts = [m[1], m[2], m[3]].map(Number);
  if (parts.some((p) => p > 0xffff)) throw new BuildError(`version ${version} does not fit`);
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0, 0];
}

/**
 * A small icon drawn here rather than committed as a binary: a blue disc with
 * a white ring and a white centre, at 16, 32 and 48 pixels, as a .ico file of
 * 32-bit bitmaps. Deterministic, so builds stay reproducible.
 */
export function drawIcon(): Buffer {
  const sizes = [16, 32, 48];
  const images = sizes.map((n) => {
    const header = Buffer.alloc(40);
    header.writeUInt32LE(40, 0);
    header.writeInt32LE(n, 4);
    header.writeInt32LE(n * 2, 8); // XOR bitmap and AND mask together
    header.writeUInt16LE(1, 12);
    header.writeUInt16LE(32, 14);
    const pixels = Buffer.alloc(n * n * 4);
    const c = (n - 1) / 2;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const r = Math.hypot(x - c, y - c) / (n / 2);
        // Bitmaps are stored bottom-up, BGRA.
        const o = ((n - 1 - y) * n + x) * 4;
        if (r > 1) continue;
        const white = (r > 0.62 && r < 0.78) || r < 0.25;
        pixels[o] = white ? 0xff : 0xc8;
        pixels[o + 1] = white ? 0xff : 0x6a;
        pixels[o + 2] = white ? 0xff : 0x1e;
        pixels[o + 3] = 0xff;
      }
    }
    const maskRow = Math.ceil(n / 32) * 4;
    return Buffer.concat([header, pixels, Buffer.alloc(maskRow * n)]);
  });
  const dir = Buffer.alloc(6 + 16 * sizes.length);
  dir.writeUInt16LE(1, 2);
  dir.writeUInt16LE(sizes.length, 4);
  let offset = dir.length;
  sizes.forEach((n, i) => {
    const e = 6 + 16 * i;
    dir.writeUInt8(n, e);
    dir.writeUInt8(n, e + 1);
    dir.writeUInt16LE(1, e + 4);
    dir.writeUInt16LE(32, e + 6);
    dir.writeUInt32LE(images[i]?.length ?? 0, e + 8);
    dir.writeUInt32LE(offset, e + 12);
    offset += images[i]?.length ?? 0;
  });
  return Buffer.concat([dir, ...images]);
}

/** The SEA sentinel in node's binary; ":0" becomes ":1" once a blob is injected. */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const RT_RCDATA = 10;

/**
 * Flips the SEA fuse in a node binary's bytes (what postject does besides
 * adding the blob). The sentinel must occur exactly once.
 */
export function flipSeaFuse(bytes: Buffer): void {
  const off = bytes.indexOf(`${SEA_FUSE}:0`);
  if (off < 0 || bytes.indexOf(`${SEA_FUSE}:0`, off + 1) >= 0)
    throw new BuildError('the SEA fuse is not in the node binary exactly once');
  bytes[off + SEA_FUSE.length + 1] = 0x31; // '1'
}

/**
 * Turns node.exe into our executable in one pass: the SEA blob as the
 * RT_RCDATA resource NODE_SEA_BLOB (where node looks for it, as postject
 * would put it), the fuse flipped, and our version resources and icon in
 * place of node's. Doing it here rather than with postject takes seconds
 * instead of tens of seconds for a 90 MB PE. The Authenticode signature is
 * dropped (it no longer matches); `signExe` adds ours at the end.
 */
export function brandExe(path: string, info: ProductInfo, seaBlob?: Buffer): void {
  const exe = NtExecutable.from(readFileSync(path), { ignoreCert: true });
  const res = NtExecutableResource.from(exe);
  if (seaBlob) {
    res.entries = res.entries.filter((e) => !(e.type === RT_RCDATA && e.id === 'NODE_SEA_BLOB'));
    res.entries.push({
      type: RT_RCDATA,
      id: 'NODE_SEA_BLOB',
      lang: LANG_EN_US,
      codepage: 0,
      bin: Uint8Array.from(seaBlob).buffer,
    });
  }
  const [major, minor, patch, rev] = versionQuad(info.version);

  const existing = Resource.VersionInfo.fromEntries(res.entries)[0];
  const vi = existing ?? Resource.VersionInfo.createEmpty();
  for (const lang of vi.getAllLanguagesForStringValues()) vi.removeAllStringValues(lang, true);
  vi.lang = LANG_EN_US;
  const table = { lang: LANG_EN_US, codepage: CODEPAGE_UNICODE };
  vi.setStringValues(table, {
    CompanyName: info.company,
    FileDescription: info.description,
    FileVersion: info.version,
    InternalName: info.fileName.replace(/\.exe$/i, ''),
    LegalCopyright: info.copyright,
    OriginalFilename: info.fileName,
    ProductName: info.productName,
    ProductVersion: info.version,
  });
  vi.setFileVersion(major, minor, patch, rev, LANG_EN_US);
  vi.setProductVersion(major, minor, patch, rev, LANG_EN_US);
  // Replace every language's copy, so no "Node.js" table survives next to ours.
  res.entries = res.entries.filter((e) => e.type !== 16);
  vi.outputToResourceEntries(res.entries);

  const icon = Data.IconFile.from(drawIcon());
  const groups = Resource.IconGroupEntry.fromEntries(res.entries);
  const groupId = groups[0]?.id ?? 1;
  const groupLang = groups[0]?.lang ?? LANG_EN_US;
  Resource.IconGroupEntry.replaceIconsForResource(
    res.entries,
    groupId,
    groupLang,
    icon.icons.map((i) => i.data),
  );
  res.outputResource(exe);
  const out = Buffer.from(exe.generate());
  if (seaBlob) flipSeaFuse(out);
  writeFileSync(path, out);
}

/** Reads back the string table, for tests and the build summary. */
export function readVersionStrings(path: string): Record<string, string> {
  const exe = NtExecutable.from(readFileSync(path), { ignoreCert: true });
  const res = NtExecutableResource.from(exe);
  const vi = Resource.VersionInfo.fromEntries(res.entries)[0];
  if (!vi) return {};
  const lang = vi.getAllLanguagesForStringValues()[0];
  return lang ? vi.getStringValues(lang) : {};
}

/** Where the signing key comes from: flags, else CLIENT_BOOTSTRAP_SIGN_* variables. */
export interface SigningConfig {
  /** A PKCS#12 file, or a PEM certificate (chain) with `key`. */
  readonly pkcs12?: string;
  readonly cert?: string;
  readonly key?: string;
  /** A file holding the PKCS#12 or key password (never the password itself on a command line). */
  readonly passwordFile?: string;
  readonly timestampUrl?: string;
  /** Signing time as Unix seconds, for reproducible signatures (SOURCE_DATE_EPOCH). */
  readonly time?: number;
}

export function signingConfigFromEnv(env: NodeJS.ProcessEnv): SigningConfig {
  const e = (k: string): string | undefined => env[`CLIENT_BOOTSTRAP_SIGN_${k}`] || undefined;
  const epoch = env.SOURCE_DATE_EPOCH ? Number(env.SOURCE_DATE_EPOCH) : undefined;
  return {
    pkcs12: e('PKCS12'),
    cert: e('CERT'),
    key: e('KEY'),
    passwordFile: e('PASSWORD_FILE'),
    timestampUrl: e('TIMESTAMP_URL'),
    time: Number.isInteger(epoch) ? epoch : undefined,
  };
}

/** The osslsigncode arguments for `cfg` (pure, so the exact command is testable). */
export function signArgs(
  cfg: SigningConfig,
  input: string,
  output: string,
  info: { productName: string; url?: string },
): string[] {
  const args = ['sign', '-h', 'sha256', '-n', info.productName];
  if (info.url) args.push('-i', info.url);
  if (cfg.pkcs12) args.push('-pkcs12', cfg.pkcs12);
  else if (cfg.cert && cfg.key) args.push('-certs', cfg.cert, '-key', cfg.key);
  else
    throw new BuildError(
      '--sign needs CLIENT_BOOTSTRAP_SIGN_PKCS12, or CLIENT_BOOTSTRAP_SIGN_CERT and CLIENT_BOOTSTRAP_SIGN_KEY',
    );
  if (cfg.passwordFile) args.push('-readpass', cfg.passwordFile);
  if (cfg.timestampUrl) args.push('-ts', cfg.timestampUrl);
  else if (cfg.time !== undefined) args.push('-time', String(cfg.time));
  args.push('-in', input, '-out', output);
  return args;
}

/**
 * Signs `path` in place. node.exe's own signature must already be gone
 * (brandExe drops it): a second signature over a changed file is invalid.
 */
export function signExe(
  path: string,
  cfg: SigningConfig,
  info: { productName: string; url?: string },
): void {
  for (const f of [cfg.pkcs12, cfg.cert, cfg.key, cfg.passwordFile])
    if (f && !existsSync(f)) throw new BuildError(`signing: ${f} does not exist`);
  const signed = `${path}.signed`;
  execFileSync('osslsigncode', signArgs(cfg, path, signed, info), {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  renameSync(signed, path);
}

/**
 * Removes node.exe's Authenticode signature before anything changes the
 * file: postject would otherwise carry a signature that no longer matches.
 */
export function removeSignature(path: string): void {
  const out = `${path}.unsigned`;
  execFileSync('osslsigncode', ['remove-signature', '-in', path, '-out', out], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  renameSync(out, path);
}

/**
 * Sets the PE header checksum (the sum of the file's 16-bit words with the
 * checksum field counted as zero, folded, plus the file length), which
 * neither postject nor resedit updates; verifiers flag a wrong one.
 */
export function fixPeChecksum(path: string): void {
  const buf = readFileSync(path);
  const field = buf.readUInt32LE(0x3c) + 24 + 64;
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) {
    if (i === field || i === field + 2) continue;
    sum += i + 1 < buf.length ? buf.readUInt16LE(i) : (buf[i] ?? 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  buf.writeUInt32LE((sum + buf.length) >>> 0, field);
  writeFileSync(path, buf);
}
