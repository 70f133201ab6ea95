/** Where the agent keeps its state and log by default, per platform and user. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The registration inside a state directory. */
export const STATE_FILE_NAME = 'state.json';

/** What the defaults depend on (a part of ConfigEnv). */
export interface PlatformEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly platform: NodeJS.Platform;
  readonly isRoot: boolean;
}

/** The per-user state directory (`--user`, and the default for a user who is not root). */
export function userStateDir(cfg: Pick<PlatformEnv, 'env' | 'platform'>): string {
  if (cfg.platform === 'win32')
    return join(cfg.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'ClientBootstrap');
  if (cfg.platform === 'darwin')
    return join(homedir(), 'Library', 'Application Support', 'ClientBootstrap');
  return join(cfg.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'client-bootstrap');
}

export function defaultStateDir(cfg: PlatformEnv): string {
  if (cfg.platform === 'win32')
    return join(cfg.env.ProgramData ?? 'C:\\ProgramData', 'ClientBootstrap');
  if (cfg.platform === 'darwin')
    return cfg.isRoot ? '/Library/Application Support/ClientBootstrap' : userStateDir(cfg);
  if (cfg.isRoot) return '/var/lib/client-bootstrap';
  return userStateDir(cfg);
}

/** Per-OS default log file. */
export function defaultLogFile(cfg: PlatformEnv, stateDir: string, user = false): string {
  if (user) return join(stateDir, 'client-bootstrap.log');
  if (cfg.platform === 'win32')
    return join(
      cfg.env.ProgramData ?? 'C:\\ProgramData',
      'ClientBootstrap',
      'Logs',
      'client-bootstrap.log',
    );
  if (cfg.platform === 'linux' && cfg.isRoot)
    return '/var/log/client-bootstrap/client-bootstrap.log';
  return join(stateDir, 'client-bootstrap.log');
}
