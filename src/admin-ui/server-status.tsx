/** The server's state at a glance (who can register, the relay tunnel) and the install command to copy. */
import { useEffect, useState } from 'preact/hooks';
import { api, when } from './api.ts';
import type { Settings, TunnelState } from './api.ts';

function tunnelText(t: TunnelState): string {
  switch (t.state) {
    case 'not-configured':
      return 'not configured (internet clients reach this server only directly)';
    case 'connecting':
      return 'connecting…';
    case 'connected':
      return `connected since ${when(t.since)}`;
    case 'refused':
      return `refused: ${t.reason}. Internet clients get "server offline" until the tunnel token is fixed (--relay-token-file).`;
    case 'down':
      return `down since ${when(t.since)}: ${t.reason}`;
  }
}

export function ServerStatus({ settings }: { settings: Settings }) {
  const bad = settings.tunnel.state === 'refused' || settings.tunnel.state === 'down';
  return (
    <section class="card" aria-labelledby="status-title">
      <h2 id="status-title">Status</h2>
      {settings.warning && (
        <p class="warning" id="no-secret-warning">
          Nobody can register as things stand: {settings.warning}
        </p>
      )}
      <p id="tunnel-status" class={bad ? 'warning' : undefined}>
        Relay tunnel: {tunnelText(settings.tunnel)}
      </p>
    </section>
  );
}

const SHELLS = [
  { value: 'sh', name: 'Linux / macOS shell' },
  { value: 'powershell', name: 'PowerShell' },
  { value: 'cmd', name: 'cmd.exe (SCCM, Intune)' },
];

export function InstallCommand({ token }: { token: string }) {
  const [shell, setShell] = useState('sh');
  const [command, setCommand] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setCopied(false);
    api<{ command: string }>(token, 'GET', `install-command?shell=${shell}`)
      .then((r) => (setCommand(r.command), setError(null)))
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, [token, shell]);
  return (
    <section class="card" aria-labelledby="install-title">
      <h2 id="install-title">Install command</h2>
      <p class="muted">
        A silent install of the agent for this server (its id and pin included). The secret goes in
        a file beside it, never on the command line.
      </p>
      <div class="row tight">
        <label for="install-shell">For</label>
        <select id="install-shell" value={shell} onChange={(e) => setShell(e.currentTarget.value)}>
          {SHELLS.map((s) => (
            <option key={s.value} value={s.value}>
              {s.name}
            </option>
          ))}
        </select>
        <button
          type="button"
          disabled={!command}
          onClick={() => {
            if (command) void navigator.clipboard?.writeText(command).then(() => setCopied(true));
          }}
        >
          {copied ? 'Copied' : 'Copy install command'}
        </button>
      </div>
      {error && <p class="error">{error}</p>}
      {command && (
        <pre class="command" aria-label="Install command">
          {command}
        </pre>
      )}
    </section>
  );
}
