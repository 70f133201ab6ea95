/**
 * File-system errors of the agent's state, said for what they are: a full
 * disk, a read-only file system and a permission problem each get their
 * own code, message and hint (and so their exit code).
 */
import { UserError } from '../common/errors.ts';

const KINDS: Record<string, { code: string; why: string; hint: string }> = {
  ENOSPC: {
    code: 'disk_full',
    why: 'the disk is full',
    hint: 'free some space; this is retryable (exit 8), nothing was registered or damaged',
  },
  EDQUOT: {
    code: 'disk_full',
    why: 'the disk quota is used up',
    hint: 'free some space; this is retryable (exit 8), nothing was registered or damaged',
  },
  EROFS: {
    code: 'state',
    why: 'the file system is read-only',
    hint: 'choose a writable state directory with --state-dir',
  },
  EACCES: {
    code: 'state',
    why: 'permission denied',
    hint: 'run as the installing account, or choose another state directory with --state-dir',
  },
  EPERM: {
    code: 'state',
    why: 'operation not permitted',
    hint: 'run as the installing account, or choose another state directory with --state-dir',
  },
};

/** A UserError for a failed state operation, naming the cause. */
export function ioError(err: unknown, what: string): UserError {
  const errno = (err as NodeJS.ErrnoException).code ?? 'error';
  const kind = KINDS[errno];
  return new UserError(kind?.code ?? 'state', `${what}: ${kind?.why ?? errno} (${errno})`, {
    cause: err,
    hint:
      kind?.hint ??
      'check the state directory (permissions, free space), or choose another with --state-dir',
  });
}
