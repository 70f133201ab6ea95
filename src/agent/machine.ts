/** What the agent tells the server about this machine. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { arch, hostname, platform } from 'node:os';
import nodeMachineId from 'node-machine-id';
import { VERSION } from '../version.ts';

/** Where node-machine-id looks on Linux, in its order. */
export const LINUX_ID_FILES = ['/var/lib/dbus/machine-id', '/etc/machine-id'] as const;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * What node-machine-id's Linux command,
 * `( cat /var/lib/dbus/machine-id /etc/machine-id 2> /dev/null || hostname ) | head -n 1`,
 * prints, read without starting a program: the files one after the other,
 * the host name after them when one cannot be read, up to the first newline.
 *
 * Why not the library itself on Linux: it forks a shell, and a fork during
 * the key derivation write-protects scrypt's 128 MiB, whose every page then
 * faults again (huge pages are split): about 150 ms on every registration
 * (`npm run bench`). The id is the library's to the bit, so a machine
 * registered by an earlier version keeps its id (test/machine-id.test.ts
 * compares them).
 */
export function linuxIdLine(
  files: readonly string[] = LINUX_ID_FILES,
  host: () => string = hostname,
): string {
  let out = '';
  let failed = false;
  for (const file of files) {
    try {
      out += readFileSync(file, 'utf8');
    } catch {
      failed = true; // cat goes on to the next file and exits 1: then hostname runs
    }
  }
  if (failed) out += `${host()}\n`;
  return out.split('\n')[0] as string;
}

/** node-machine-id's hash of what its command printed: no white space, lower case, SHA-256. */
export function hashIdLine(line: string): string | null {
  const id = line.replace(/\s+/g, '').toLowerCase();
  return id ? sha256Hex(id) : null;
}

async function libraryMachineId(): Promise<string | null> {
  try {
    const id = await nodeMachineId.machineId();
    if (/^[0-9a-f]{64}$/.test(id) && id !== sha256Hex('')) return id;
  } catch {
    // no shell, no REG.exe: the host name below
  }
  return null;
}

/**
 * The hashed machine id, as node-machine-id gives it: on Linux read here
 * (see linuxIdLine), elsewhere from the library. Where there is none, a hash
 * of the host name.
 */
export async function readMachineId(os: NodeJS.Platform = platform()): Promise<string> {
  const id = os === 'linux' ? hashIdLine(linuxIdLine()) : await libraryMachineId();
  return id ?? sha256Hex(`host:${hostname()}`);
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
