/**
 * Whether the agent runs with the rights a system install needs (root;
 * an administrator on Windows), and the warning when it does not: the
 * state then goes where a system service will never look.
 */
import type { RunCommand } from './windows-acl.ts';

/**
 * True when the process may write the system locations. On Windows,
 * `net session` succeeds only in an elevated (administrator) process.
 */
export function isElevated(
  platform: NodeJS.Platform,
  isRoot: boolean,
  runCommand: RunCommand,
): boolean {
  if (platform !== 'win32') return isRoot;
  try {
    return runCommand('net', ['session']).code === 0;
  } catch {
    return false;
  }
}

/** The warning for a run that keeps its state in the default place without the rights to; null when none is due. */
export function elevationWarning(
  settings: { stateDir: string; stateDirFrom: 'given' | 'user' | 'default' },
  platform: NodeJS.Platform,
  elevated: boolean,
): string | null {
  if (elevated || settings.stateDirFrom !== 'default') return null;
  const who = platform === 'win32' ? 'as administrator' : 'as root';
  const how = platform === 'win32' ? 'from an elevated prompt' : 'with sudo';
  // Without root the default is the user's own directory, which a system service never reads.
  const where =
    platform === 'win32'
      ? settings.stateDir
      : `${settings.stateDir}, where a system service will not look`;
  return `not running ${who}: a system install should run elevated (${how}); the state goes to ${where}; give --user to keep a per-user registration on purpose`;
}
