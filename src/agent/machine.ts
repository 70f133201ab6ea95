/** What the agent tells the server about this machine. */
import { createHash } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { arch, hostname, platform } from 'node:os';
import { delimiter, join } from 'node:path';
import { VERSION } from '../version.ts';

/** Where node-machine-id looks on Linux, in its order. */
const LINUX_ID_FILES = ['/var/lib/dbus/machine-id', '/etc/machine-id'] as const;
/** dash's search path when PATH is not set. */
const SHELL_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** child_process.exec's maxBuffer: a longer output is an error. */
const EXEC_MAX_BUFFER = 1024 * 1024;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
const EMPTY_HASH = sha256Hex('');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The system node-machine-id's Linux command finds; a test gives its own. */
export interface LinuxIdSystem {
  readonly files: readonly string[];
  /** PATH as the shell sees it (undefined: not set). */
  readonly path: string | undefined;
  readonly shell: string;
  readonly hostname: () => string;
}

const THIS_SYSTEM = (): LinuxIdSystem => ({
  files: LINUX_ID_FILES,
  path: process.env.PATH,
  shell: '/bin/sh',
  hostname,
});

/**
 * What node-machine-id gives on Linux, without starting a program. The
 * library runs `/bin/sh -c "( cat /var/lib/dbus/machine-id /etc/machine-id
 * 2> /dev/null || hostname ) | head -n 1 || :"` and hashes what it prints,
 * without white space, in lower case. Here: the files' bytes one after the
 * other, the host name after them when a file could not be read and
 * `hostname` is on PATH, up to the first newline, decoded once. null where
 * the library fails (no shell, an output over exec's buffer).
 *
 * Why not the library itself on Linux: it forks a shell, and a fork during
 * the key derivation write-protects scrypt's 128 MiB, whose every page then
 * faults again (huge pages are split): about 150 ms of every registration
 * (`npm run bench`). The id must be the library's to the bit, or a machine
 * registered by an earlier version would register again as a new one
 * (src/agent/machine.test.ts runs the library's command beside this).
 */
export function libraryLinuxId(system: LinuxIdSystem = THIS_SYSTEM()): string | null {
  if (!executable(system.shell)) return null;
  const dirs = (system.path ?? SHELL_DEFAULT_PATH).split(delimiter).map((d) => d || '.');
  const onPath = (name: string): boolean => dirs.some((d) => executable(join(d, name)));
  // Without head, nothing comes out of the pipe and `|| :` makes that a success.
  if (!onPath('head')) return EMPTY_HASH;
  const parts: Buffer[] = [];
  let failed = !onPath('cat');
  if (!failed) {
    for (const file of system.files) {
      try {
        parts.push(readFileSync(file));
      } catch {
        failed = true; // cat goes on to the next file and exits 1: then hostname runs
      }
    }
  }
  if (failed && onPath('hostname')) parts.push(Buffer.from(`${system.hostname()}\n`));
  const out = Buffer.concat(parts);
  const newline = out.indexOf(0x0a);
  const line = newline === -1 ? out : out.subarray(0, newline + 1);
  if (line.length > EXEC_MAX_BUFFER) return null;
  return sha256Hex(line.toString('utf8').replace(/\s+/g, '').toLowerCase());
}

/**
 * node-machine-id itself, where it asks the system (ioreg, REG.exe, kenv).
 * Loaded here, not with this module: Linux never needs it, and loading it
 * (a bundled Promise polyfill) costs about 10 ms of CPU while scrypt runs.
 */
async function libraryId(): Promise<string | null> {
  try {
    const { default: nodeMachineId } = await import('node-machine-id');
    return await nodeMachineId.machineId();
  } catch {
    return null; // no shell, no REG.exe
  }
}

/**
 * The hashed machine id from node-machine-id (on Linux computed here, see
 * libraryLinuxId); where it has none, the id files read directly, and
 * last a hash of the host name.
 */
export async function readMachineId(
  os: NodeJS.Platform = platform(),
  system: LinuxIdSystem = THIS_SYSTEM(),
): Promise<string> {
  const id = os === 'linux' ? libraryLinuxId(system) : await libraryId();
  if (id && /^[0-9a-f]{64}$/.test(id) && id !== EMPTY_HASH) return id;
  // /etc/machine-id first here (the library reads the D-Bus copy first).
  for (const file of [...system.files].reverse()) {
    try {
      const raw = readFileSync(file, 'utf8').trim();
      if (raw) return sha256Hex(raw);
    } catch {
      // try the next
    }
  }
  return sha256Hex(`host:${system.hostname()}`);
}

export interface MachineFacts {
  readonly machineId: string;
  readonly hostname: string;
  readonly os: string;
  readonly arch: string;
  readonly agentVersion: string;
}

export async function machineFacts(): Promise<MachineFacts> {
  return {
    machineId: await readMachineId(),
    hostname: hostname().slice(0, 255),
    os: platform(),
    arch: arch(),
    agentVersion: VERSION,
  };
}
