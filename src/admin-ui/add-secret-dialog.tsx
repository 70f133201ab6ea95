/** The Add Secret dialog: masked Auth Secret with a show toggle, Label, the live rule check, Generate, OK and Cancel. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { generateSecret, ruleChecks } from './api.ts';
import type { PendingAdd } from './api.ts';

export function AddSecretDialog({
  onOk,
  onCancel,
  onUnsavedSecret,
}: {
  onOk: (add: Omit<PendingAdd, 'key'>) => void;
  onCancel: () => void;
  /** True while a generated secret is shown that was neither copied nor added. */
  onUnsavedSecret: (unsaved: boolean) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [secret, setSecret] = useState('');
  const [label, setLabel] = useState('');
  const [show, setShow] = useState(false);
  const [generated, setGenerated] = useState(false);
  const [weakWarning, setWeakWarning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [expires, setExpires] = useState('');
  const [maxUses, setMaxUses] = useState('');
  const checks = ruleChecks(secret);
  useEffect(() => onUnsavedSecret(generated && !copied), [generated, copied]);
  const strong = checks.every((c) => c.ok);

  useEffect(() => {
    ref.current?.showModal();
  }, []);

  const ok = (allowWeak: boolean) => {
    if (!secret) return setError('Enter an Auth Secret, or press Generate.');
    if (maxUses.trim() && !/^[1-9]\d{0,6}$/.test(maxUses.trim()))
      return setError('New clients must be a whole number from 1, or empty for no limit.');
    if (!strong && !allowWeak) return setWeakWarning(true);
    onOk({
      secret,
      label: label.trim(),
      allowWeak: !strong,
      expires: expires.trim(),
      maxUses: maxUses.trim(),
    });
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
              setCopied(false);
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
        <label for="secret-expires">Expires after</label>
        <input
          id="secret-expires"
          type="text"
          value={expires}
          placeholder="never; or 30d, 12h, 90m, 2027-01-31"
          aria-describedby="limits-help"
          onInput={(e) => setExpires(e.currentTarget.value)}
        />
        <label for="secret-max-uses">New clients it may register</label>
        <input
          id="secret-max-uses"
          type="text"
          inputMode="numeric"
          value={maxUses}
          placeholder="no limit"
          aria-describedby="limits-help"
          onInput={(e) => setMaxUses(e.currentTarget.value)}
        />
        <p id="limits-help" class="help">
          After either limit the secret is refused like a removed one; the audit says why.
        </p>
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
