/**
 * The admin page: Settings > Client Authorization. Talks only to the admin
 * API of the server that serves it, with the admin token from the sign-in
 * link's fragment or the sign-in form, kept for this tab only.
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';

type Mode = 'none' | 'internet' | 'all';

interface SecretRow {
  id: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
  useCount: number;
  weak: boolean;
}

interface Settings {
  serverId: string;
  pin: string;
  mode: Mode;
  secrets: SecretRow[];
  maxSecrets: number;
  clients: { total: number; active: number };
}

interface ClientRow {
  clientId: string;
  hostname: string;
  route: string;
  seenAs: string;
  registeredAt: string;
  supersededBy: string | null;
}

interface AuditRow {
  id: number;
  time: string;
  route?: string;
  source?: string;
  outcome: string;
  reason?: string;
  secretId: string | null;
}

interface PendingAdd {
  key: number;
  secret: string;
  label: string;
  allowWeak: boolean;
}

const MODES: { value: Mode; name: string; help: string }[] = [
  {
    value: 'none',
    name: 'No Authorization',
    help: 'Any client may register; no secret is asked for.',
  },
  {
    value: 'internet',
    name: 'Enable Internet Clients',
    help: 'Clients that come from the internet (through the cloud relay, or from outside the intranet) need an Auth Secret.',
  },
  {
    value: 'all',
    name: 'Enable All Clients',
    help: 'Every client needs an Auth Secret, on the intranet too.',
  },
];

const TOKEN_KEY = 'client-bootstrap-admin-token';

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function api<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/admin/v1/${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    cache: 'no-store',
    credentials: 'omit',
  });
  const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok)
    throw new ApiError(res.status, data.error?.message ?? `the server answered ${res.status}`);
  return data as T;
}

/** The password rule, as the server applies it. */
function ruleChecks(secret: string): { text: string; ok: boolean }[] {
  return [
    { text: 'at least 10 characters', ok: [...secret].length >= 10 },
    { text: 'a digit', ok: /\p{Nd}/u.test(secret) },
    { text: 'an uppercase letter', ok: /\p{Lu}/u.test(secret) },
    { text: 'a lowercase letter', ok: /\p{Ll}/u.test(secret) },
  ];
}

const ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** 24 characters without look-alikes, always meeting the rule (as the server generates). */
function generateSecret(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint32Array(24));
    const text = Array.from(bytes, (n) => ALPHABET[n % ALPHABET.length]).join('');
    if (ruleChecks(text).every((c) => c.ok)) return text;
  }
}

const when = (iso: string | null): string => (iso ? new Date(iso).toLocaleString() : 'never');

function readInitialToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (m?.[1]) {
    const token = decodeURIComponent(m[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    // Drop the token from the address bar and history.
    history.replaceState(null, '', window.location.pathname);
    return token;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function App() {
  const [token, setToken] = useState<string | null>(readInitialToken);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    // A sign-in link opened in a tab that already shows the page.
    const onHash = (): void => {
      const t = readInitialToken();
      if (t) setToken(t);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const signOut = (why: string | null): void => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setNotice(why);
  };
  if (!token)
    return (
      <SignIn
        notice={notice}
        onToken={(t) => (sessionStorage.setItem(TOKEN_KEY, t), setToken(t), setNotice(null))}
      />
    );
  return <ClientAuthorization token={token} onSignOut={signOut} />;
}

function SignIn({ notice, onToken }: { notice: string | null; onToken: (token: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="page narrow">
      <h1>bootstrap-server</h1>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <h2>Sign in</h2>
        <p>
          Use the link that <code>bootstrap-server admin-url</code> prints, or paste the admin
          token.
        </p>
        {notice && (
          <p class="error" role="alert">
            {notice}
          </p>
        )}
        <label for="token">Admin token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <div class="actions">
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
      </form>
    </main>
  );
}

function ClientAuthorization({
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
  const nextKey = useRef(1);

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

  const dirty = mode !== settings.mode || adds.length > 0 || removes.length > 0;
  const activeAfter = settings.secrets.length - removes.length + adds.length;

  const save = () =>
    guard(async () => {
      setSaving(true);
      setStatus(null);
      try {
        await api(token, 'POST', 'apply', {
          mode,
          add: adds.map((a) => ({ secret: a.secret, label: a.label, allowWeak: a.allowWeak })),
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
      <p class="muted">
        Server <code>{settings.serverId}</code> · pin <code class="wrap">{settings.pin}</code>
      </p>

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
        <Table head={['Label', 'ID', 'Created', 'Last used', 'Uses', '']} empty="No secret yet.">
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
                <td>
                  {removing ? (
                    <button
                      type="button"
                      class="link"
                      aria-label={`Undo removing ${s.id}`}
                      onClick={() => setRemoves(removes.filter((id) => id !== s.id))}
                    >
                      Undo
                    </button>
                  ) : (
                    <button
                      type="button"
                      class="danger"
                      aria-describedby={`secret-${s.id}`}
                      onClick={() => remove(s)}
                    >
                      Remove
                    </button>
                  )}
                  <span id={`secret-${s.id}`} class="sr-only">
                    {s.label || s.id}
                  </span>
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

      <section class="card" aria-labelledby="clients-title">
        <h2 id="clients-title">Registered clients: {settings.clients.active}</h2>
        <Table
          head={['Host', 'Route', 'Seen as', 'Registered']}
          empty="No client has registered yet."
        >
          {clients.map((c) => (
            <tr key={c.clientId}>
              <td>
                {c.hostname}
                {c.supersededBy && <span class="tag">replaced</span>}
              </td>
              <td>{c.route}</td>
              <td>{c.seenAs}</td>
              <td>{when(c.registeredAt)}</td>
            </tr>
          ))}
        </Table>
      </section>

      <section class="card" aria-labelledby="attempts-title">
        <h2 id="attempts-title">Latest registration attempts</h2>
        <Table head={['Time', 'Route', 'Source', 'Outcome', 'Reason']} empty="No attempt yet.">
          {attempts.map((a) => (
            <tr
              key={a.id}
              class={a.outcome === 'failed' || a.outcome === 'throttled' ? 'failed' : undefined}
            >
              <td>{when(a.time)}</td>
              <td>{a.route ?? ''}</td>
              <td>{a.source ?? ''}</td>
              <td>{a.outcome}</td>
              <td>{a.reason ?? ''}</td>
            </tr>
          ))}
        </Table>
      </section>

      {dialogOpen && (
        <AddSecretDialog
          onCancel={() => setDialogOpen(false)}
          onOk={(add) => {
            setAdds([...adds, { ...add, key: nextKey.current++ }]);
            setDialogOpen(false);
          }}
        />
      )}
    </main>
  );
}

function Table({
  head,
  empty,
  children,
}: {
  head: string[];
  empty: string;
  children: ComponentChildren;
}) {
  const rows = Array.isArray(children)
    ? children.flat().filter(Boolean)
    : children
      ? [children]
      : [];
  if (rows.length === 0) return <p class="muted">{empty}</p>;
  return (
    <div class="scroll">
      <table>
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

function AddSecretDialog({
  onOk,
  onCancel,
}: {
  onOk: (add: Omit<PendingAdd, 'key'>) => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [secret, setSecret] = useState('');
  const [label, setLabel] = useState('');
  const [show, setShow] = useState(false);
  const [generated, setGenerated] = useState(false);
  const [weakWarning, setWeakWarning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const checks = ruleChecks(secret);
  const strong = checks.every((c) => c.ok);

  useEffect(() => {
    ref.current?.showModal();
  }, []);

  const ok = (allowWeak: boolean) => {
    if (!secret) return setError('Enter an Auth Secret, or press Generate.');
    if (!strong && !allowWeak) return setWeakWarning(true);
    onOk({ secret, label: label.trim(), allowWeak: !strong });
  };

  return (
    <dialog
      ref={ref}
      aria-labelledby="add-title"
      onCancel={(e) => (e.preventDefault(), onCancel())}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          ok(false);
        }}
      >
        <h2 id="add-title">Add Secret</h2>
        <label for="auth-secret">Auth Secret</label>
        <div class="row tight">
          <input
            id="auth-secret"
            type={show ? 'text' : 'password'}
            autocomplete="new-password"
            spellcheck={false}
            value={secret}
            aria-describedby="rule"
            onInput={(e) => {
              setSecret(e.currentTarget.value);
              setGenerated(false);
              setWeakWarning(false);
              setError(null);
            }}
          />
          <button type="button" aria-pressed={show} onClick={() => setShow(!show)}>
            {show ? 'Hide' : 'Show'}
          </button>
        </div>
        <ul id="rule" class="rule" aria-live="polite">
          {checks.map((c) => (
            <li key={c.text} class={c.ok ? 'met' : 'unmet'}>
              <span aria-hidden="true">{c.ok ? '✓' : '✗'}</span> {c.text}
              <span class="sr-only">{c.ok ? ' (met)' : ' (not met)'}</span>
            </li>
          ))}
        </ul>
        <div class="row tight">
          <button
            type="button"
            onClick={() => {
              setSecret(generateSecret());
              setShow(true);
              setGenerated(true);
              setWeakWarning(false);
              setError(null);
            }}
          >
            Generate
          </button>
          {generated && (
            <button
              type="button"
              onClick={() => {
                void navigator.clipboard?.writeText(secret).then(() => setCopied(true));
              }}
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
          )}
        </div>
        {generated && <p class="note">Copy it now: once saved, the secret is never shown again.</p>}
        <label for="secret-label">Label</label>
        <input
          id="secret-label"
          type="text"
          maxLength={80}
          value={label}
          placeholder="e.g. SCCM 2026"
          onInput={(e) => setLabel(e.currentTarget.value)}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {weakWarning && (
          <div class="warning" role="alert">
            <p>
              This secret does not meet the password rule. A weak secret can be guessed more easily;
              its use is recorded in the audit log.
            </p>
            <button type="button" class="danger" onClick={() => ok(true)}>
              Use anyway
            </button>
          </div>
        )}
        <div class="actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" class="primary">
            OK
          </button>
        </div>
      </form>
    </dialog>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
