/** Settings > Client Authorization: the modes, the secrets, Save, the clients and the latest attempts. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { AddSecretDialog } from './add-secret-dialog.tsx';
import { ApiError, MODES, api, limitsText, when } from './api.ts';
import type { AuditRow, ClientRow, Mode, PendingAdd, SecretRow, Settings } from './api.ts';
import { AttemptsCard } from './attempts-card.tsx';
import { ClientsCard } from './clients-card.tsx';
import { InstallCommand, ServerStatus } from './server-status.tsx';
import { Table } from './table.tsx';
import { useLeaveGuard } from './leave-guard.ts';

export function ClientAuthorization({
  token,
  onSignOut,
}: {
  token: string;
  onSignOut: (why: string | null) => void;
}) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [clients, setClients] = useState<ClientRow[]>([]);
  const [attempts, setAttempts] = useState<AuditRow[]>([]);
  const [mode, setMode] = useState<Mode | null>(null);
  const [adds, setAdds] = useState<PendingAdd[]>([]);
  const [removes, setRemoves] = useState<string[]>([]);
  const [status, setStatus] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [saving, setSaving] = useState(false);
  const [dialogOpen, setDialogOpen] = useState(false);
  /** A secret generated in the dialog that was neither copied nor added yet. */
  const [unsavedSecret, setUnsavedSecret] = useState(false);
  const nextKey = useRef(1);
  const dirty =
    !!settings &&
    (mode !== settings.mode || adds.length > 0 || removes.length > 0 || unsavedSecret);
  useLeaveGuard(dirty);

  const guard = async (work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401)
        return onSignOut('The admin token was refused. Sign in again.');
      setStatus({ kind: 'error', text: err instanceof Error ? err.message : String(err) });
    }
  };

  const load = () =>
    guard(async () => {
      const [s, c, a] = await Promise.all([
        api<Settings>(token, 'GET', 'settings'),
        api<ClientRow[]>(token, 'GET', 'clients?limit=5'),
        api<AuditRow[]>(token, 'GET', 'audit?event=register&limit=20'),
      ]);
      setSettings(s);
      setMode(s.mode);
      setClients(c);
      setAttempts(a);
    });

  useEffect(() => {
    void load();
  }, [token]);

  if (!settings || !mode) {
    return (
      <main class="page">
        <p class="loading">Loading…</p>
        {status && (
          <p class="error" role="alert">
            {status.text}
          </p>
        )}
      </main>
    );
  }

  const usable = settings.secrets.filter((s) => s.state === 'active');
  const activeAfter =
    usable.length - usable.filter((s) => removes.includes(s.id)).length + adds.length;

  const save = () =>
    guard(async () => {
      setSaving(true);
      setStatus(null);
      try {
        await api(token, 'POST', 'apply', {
          mode,
          add: adds.map((a) => ({
            secret: a.secret,
            label: a.label,
            allowWeak: a.allowWeak,
            ...(a.expires ? { expires: a.expires } : {}),
            ...(a.maxUses ? { maxUses: Number(a.maxUses) } : {}),
          })),
          remove: removes,
        });
        setAdds([]);
        setRemoves([]);
        await load();
        setStatus({ kind: 'ok', text: 'Saved. The settings apply to the next registration.' });
      } finally {
        setSaving(false);
      }
    });

  const remove = (row: SecretRow) => {
    const name = row.label ? `"${row.label}" (${row.id})` : row.id;
    const ok = window.confirm(
      `Remove the secret ${name}?\n\nCommand lines and scripts that carry it must be updated to another secret. Clients that registered with it stay registered.\n\nThe removal takes effect when you press Save.`,
    );
    if (ok) setRemoves([...removes, row.id]);
  };

  return (
    <main class="page">
      <header class="top">
        <nav aria-label="Breadcrumb" class="crumbs">
          Settings <span aria-hidden="true">›</span> <strong>Client Authorization</strong>
        </nav>
        <button type="button" class="link" onClick={() => onSignOut(null)}>
          Sign out
        </button>
      </header>
      <h1>Client Authorization</h1>
      {settings.guessAlarm?.active && (
        <p class="error alarm" role="alert">
          Alarm: {settings.guessAlarm.failedLastHour} failed guesses of the authorization secret in
          the last hour, across all sources (threshold {settings.guessAlarm.threshold}), since{' '}
          {when(settings.guessAlarm.raisedAt)}. Someone may be guessing the secret; see the attempts
          below, and replace the secrets if in doubt.
        </p>
      )}
      <p class="muted">
        Server <code>{settings.serverId}</code> · pin <code class="wrap">{settings.pin}</code>
      </p>
      <ServerStatus settings={settings} />

      <section class="card">
        <fieldset>
          <legend>Who needs an Auth Secret to register</legend>
          {MODES.map((m) => (
            <div class="radio" key={m.value}>
              <input
                type="radio"
                id={`mode-${m.value}`}
                name="mode"
                value={m.value}
                checked={mode === m.value}
                aria-describedby={`mode-${m.value}-help`}
                onChange={() => setMode(m.value)}
              />
              <label for={`mode-${m.value}`}>{m.name}</label>
              <p id={`mode-${m.value}-help`} class="help">
                {m.help}
              </p>
            </div>
          ))}
        </fieldset>
      </section>

      <section class="card" aria-labelledby="secrets-title">
        <div class="row">
          <h2 id="secrets-title">Auth Secrets</h2>
          <span class="muted">
            {activeAfter} of {settings.maxSecrets}
          </span>
          <button
            type="button"
            onClick={() => setDialogOpen(true)}
            disabled={activeAfter >= settings.maxSecrets}
          >
            <span aria-hidden="true">+ </span>Add Secret
          </button>
        </div>
        <p class="muted">
          Any one active secret is accepted. Secrets are stored only in a derived form and are never
          shown again.
        </p>
        <Table
          head={['Label', 'ID', 'Created', 'Last used', 'Uses', 'Limits', '']}
          empty="No secret yet."
        >
          {settings.secrets.map((s) => {
            const removing = removes.includes(s.id);
            return (
              <tr key={s.id} class={removing ? 'removing' : undefined}>
                <td>
                  {s.label || <span class="muted">(no label)</span>}
                  {s.weak && <span class="tag">weak</span>}
                </td>
                <td>
                  <code>{s.id}</code>
                </td>
                <td>{when(s.createdAt)}</td>
                <td>{when(s.lastUsedAt)}</td>
                <td>{s.useCount}</td>
                <td>{limitsText(s)}</td>
                <td>
                  {removing ? (
                    <button
                      type="button"
                      class="link"
                      aria-label={`Undo removing secret '${s.label || s.id}'`}
                      onClick={() => setRemoves(removes.filter((id) => id !== s.id))}
                    >
                      Undo
                    </button>
                  ) : (
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Remove secret '${s.label || s.id}'`}
                      onClick={() => remove(s)}
                    >
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
          {adds.map((a) => (
            <tr key={`new-${a.key}`} class="adding">
              <td>
                {a.label || <span class="muted">(no label)</span>} <span class="tag">new</span>
                {a.allowWeak && <span class="tag">weak</span>}
              </td>
              <td class="muted">on Save</td>
              <td colSpan={3} class="muted">
                not saved yet
              </td>
              <td>
                {[
                  a.expires && `expires in/on ${a.expires}`,
                  a.maxUses && `${a.maxUses} new clients`,
                ]
                  .filter(Boolean)
                  .join(', ')}
              </td>
              <td>
                <button
                  type="button"
                  class="link"
                  onClick={() => setAdds(adds.filter((x) => x.key !== a.key))}
                >
                  Discard
                </button>
              </td>
            </tr>
          ))}
        </Table>
      </section>

      <div class="savebar">
        <button
          type="button"
          class="primary"
          onClick={() => void save()}
          disabled={!dirty || saving}
        >
          {saving ? 'Saving…' : 'Save'}
        </button>
        {dirty && <span class="unsaved">● Unsaved changes</span>}
        <p role={status?.kind === 'error' ? 'alert' : 'status'} class={status ? status.kind : ''}>
          {status?.text ?? ''}
        </p>
      </div>

      <ClientsCard
        token={token}
        clients={clients}
        active={settings.clients.active}
        guard={guard}
        onRemoved={async (text) => {
          await load();
          setStatus({ kind: 'ok', text });
        }}
      />
      <AttemptsCard attempts={attempts} />
      <InstallCommand token={token} />

      {dialogOpen && (
        <AddSecretDialog
          onCancel={() => (setDialogOpen(false), setUnsavedSecret(false))}
          onUnsavedSecret={setUnsavedSecret}
          onOk={(add) => {
            setAdds([...adds, { ...add, key: nextKey.current++ }]);
            setDialogOpen(false);
            setUnsavedSecret(false);
          }}
        />
      )}
    </main>
  );
}
