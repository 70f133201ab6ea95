/**
 * Everything a test or a benchmark starts is registered here and undone by
 * `cleanUpEverything()`: processes (each in its own process group, so what
 * they start goes too), temporary directories (all under one root per test
 * file or benchmark run) and other undo steps (an iptables rule). The
 * vitest set-up file calls it after every test file, whether the file
 * passed, failed, or failed halfway through its set-up.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const undo = new Map<number, () => void | Promise<void>>();
let nextUndo = 0;
let root: string | undefined;

/**
 * When set (by the cleanup test), every pid and the temp root are appended
 * to this file, so a run that is watched from outside can be audited.
 */
const AUDIT_LOG = process.env.CB_TEST_AUDIT_LOG;

function audit(line: string): void {
  if (AUDIT_LOG) appendFileSync(AUDIT_LOG, `${line}\n`);
}

/** The one temporary root of this process; created on first use. */
export function tempRoot(): string {
  if (root === undefined) {
    const parent = process.env.CB_TEST_TMP ?? tmpdir();
    mkdirSync(parent, { recursive: true });
    root = mkdtempSync(join(parent, 'cb-run-'));
    audit(`dir ${root}`);
  }
  return root;
}

/** A new directory below this run's temporary root (mode 0700). */
export function tempDir(prefix = 'cb-test-'): string {
  const dir = mkdtempSync(join(tempRoot(), prefix));
  return dir;
}

/** Registers a spawned child: it is stopped (with its process group) at clean-up. */
export function trackChild(child: ChildProcess): void {
  if (child.pid === undefined) return;
  children.add(child);
  audit(`pid ${child.pid}`);
  child.once('exit', () => {
    children.delete(child);
    // What the leader left in its group goes with it, at once: later the
    // group id could belong to someone else (pids wrap around).
    signalGroup(child, 'SIGKILL');
  });
}

/** Registers an undo step; the returned function runs it now and unregisters it. */
export function onCleanup(fn: () => void | Promise<void>): () => Promise<void> {
  const id = nextUndo++;
  undo.set(id, fn);
  return async () => {
    if (!undo.delete(id)) return;
    await fn();
  };
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops a child's whole process group: SIGTERM (or `signal`), then SIGKILL
 * after `graceMs`. Resolves with the child's exit code once it has exited.
 */
export function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 5_000,
): Promise<number | null> {
  // Its group was cleared when it exited (trackChild).
  if (!isRunning(child)) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    signalGroup(child, signal);
  });
}

/** What is still registered (for the cleanup test and for error messages). */
export function leftovers(): { pids: number[]; undo: number; root: string | undefined } {
  return {
    pids: [...children].filter(isRunning).map((c) => c.pid as number),
    undo: undo.size,
    root,
  };
}

/**
 * Stops every registered process, runs every undo step, removes the
 * temporary root. Safe to call more than once and after a set-up that
 * failed halfway; collects errors and throws them together at the end.
 */
export async function cleanUpEverything(): Promise<void> {
  const errors: unknown[] = [];
  await Promise.all([...children].map((c) => stopChild(c, 'SIGTERM', 3_000)));
  children.clear();
  for (const [id, fn] of [...undo].reverse()) {
    undo.delete(id);
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  }
  if (root !== undefined) {
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      errors.push(err);
    }
    root = undefined;
  }
  if (errors.length > 0) throw new AggregateError(errors, 'clean-up failed');
}

// A last resort when the process ends without the hooks (an uncaught error,
// Ctrl+C in a benchmark or the demo, vitest ending a worker): kill the
// groups and remove the root synchronously. The children have process
// groups of their own, so a terminal's Ctrl+C does not reach them by itself.
function lastResort(): void {
  for (const c of children) signalGroup(c, 'SIGKILL');
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
}
process.once('exit', lastResort);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(signal, () => {
    lastResort();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
