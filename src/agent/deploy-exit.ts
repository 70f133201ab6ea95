/**
 * Deployment tools retry on their own codes: SCCM and Intune both retry an
 * install that returns 1618 (the MSI "another installation is in progress"
 * code). `--retry-exit-code N` makes the agent's "retry later" outcomes
 * (5: no route, 8: server busy) exit with N, so the tool's built-in retry
 * handles them; every other code is left as it is.
 */
import { UserError } from '../common/errors.ts';
import { EXIT } from './exit-codes.ts';

export const RETRYABLE_EXIT_CODES: readonly number[] = [EXIT.noRoute, EXIT.busy];

/** The process exit code for the agent's `code` with `retryAs` (or none) given. */
export function deploymentExitCode(code: number, retryAs: number | undefined): number {
  return retryAs !== undefined && RETRYABLE_EXIT_CODES.includes(code) ? retryAs : code;
}

/** Checks a --retry-exit-code value: above 255 only on Windows, where exit codes are 32-bit. */
export function parseRetryExitCode(value: unknown, platform: NodeJS.Platform): number | undefined {
  if (value === undefined) return undefined;
  const max = platform === 'win32' ? 0x7fffffff : 255;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    throw new UserError('usage', `--retry-exit-code must be a whole number from 1 to ${max}`, {
      hint: 'SCCM and Intune retry on 1618 (Windows); elsewhere pick a code your tool retries on',
    });
  if (value <= 9)
    throw new UserError(
      'usage',
      `--retry-exit-code ${value} is one of the agent's own exit codes`,
      {
        hint: 'pick a code outside 0-9, such as 1618 on Windows',
      },
    );
  return value;
}
