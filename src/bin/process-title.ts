/**
 * Scrubs --secret (and a --proxy URL with a password) from the process
 * title, so that /proc/PID/cmdline and ps no longer show it. Each entry
 * point calls it before anything else runs.
 */
const sensitiveArg = (a: string, i: number, all: readonly string[]): boolean =>
  /^--secret(=|$)/i.test(a) ||
  (a.startsWith('--proxy=') && a.includes('@')) ||
  (a === '--proxy' && (all[i + 1] ?? '').includes('@'));

export function hideSensitiveArgs(argv: readonly string[]): void {
  if (hasSensitiveArgs(argv)) process.title = 'client-bootstrap';
}

export function hasSensitiveArgs(argv: readonly string[]): boolean {
  return argv.some(sensitiveArg);
}
