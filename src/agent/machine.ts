/** What the agent tells the server about this machine. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { arch, hostname, platform } from 'node:os';
import nodeMachineId from 'node-machine-id';
import { VERSION } from '../version.ts';

const EMPTY_HASH = createHash('sha256').update('').digest('hex');

/**
 * The hashed machine id from node-machine-id. It shells out to read the id;
 * where that fails (no PATH, no shell) the id files are read directly.
 */
export async function readMachineId(): Promise<string> {
  try {
    const id = await nodeMachineId.machineId();
    if (/^[0-9a-f]{64}$/.test(id) && id !== EMPTY_HASH) return id;
  } catch {
    // fall through to the direct read
  }
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const raw = readFileSync(file, 'utf8').trim();
      if (raw) return createHash('sha256').update(raw).digest('hex');
    } catch {
      // try the next
    }
  }
  return createHash('sha256').update(`host:${hostname()}`).digest('hex');
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
