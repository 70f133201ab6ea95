/**
 * Client Authorization administration: one implementation behind the
 * command line and the admin HTTP API. Secrets arrive as `Secret` objects
 * and leave only as PRS in the store.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { UserError } from '../common/errors.ts';
import {
  MAX_SHARES,
  Secret,
  derivePrs,
  generateSecretText,
  secretWeaknesses,
} from '../protocol/index.ts';
import type { DataDir } from './data-dir.ts';
import { readMode } from './data-dir.ts';
import { readAlarm } from './alarm.ts';
import type { AlarmState } from './alarm.ts';
import { noSecretWarning } from './secrets-expiry.ts';
import { AUTH_MODES } from './store-rows.ts';
import type { SecretRow } from './store.ts';
import type { AuthMode } from './store-rows.ts';

export interface Settings {
  readonly serverId: string;
  readonly pin: string;
  readonly mode: AuthMode;
  readonly secrets: readonly SecretRow[];
  readonly maxSecrets: number;
  readonly clients: { readonly total: number; readonly active: number };
  readonly kdf: DataDir['kdf'];
  /** The server-wide guessing alarm: null when it was never raised. */
  readonly guessAlarm: AlarmState | null;
  /** Set when the mode needs a secret and none is active: nobody (or no internet client) can register. */
  readonly warning: string | null;
}

/** Who made an administrative change, for the audit log. */
export interface Actor {
  readonly via: 'cli' | 'api';
  readonly source?: string;
}

export async function showSettings(dd: DataDir, now = new Date()): Promise<Settings> {
  const mode = await readMode(dd.store);
  const secrets = await dd.store.secrets.list(now.toISOString());
  return {
    serverId: dd.identity.serverId,
    pin: dd.identity.pin,
    mode,
    secrets,
    maxSecrets: MAX_SHARES,
    clients: await dd.store.countClients(),
    kdf: dd.kdf,
    guessAlarm: await readAlarm(dd.store),
    warning: noSecretWarning(mode, secrets),
  };
}

export function parseMode(value: string): AuthMode {
  if (!(AUTH_MODES as readonly string[]).includes(value)) {
    throw new UserError('bad_mode', `unknown mode ${JSON.stringify(value)}`, {
      hint: 'use one of: none, internet, all',
    });
  }
  return value as AuthMode;
}

export async function setMode(dd: DataDir, mode: AuthMode, actor: Actor, now: Date): Promise<void> {
  await dd.store.setSetting('mode', mode);
  await dd.store.audit(
    {
      event: 'admin.mode',
      route: actor.via,
      source: actor.source,
      outcome: 'changed',
      reason: mode,
    },
    now.toISOString(),
  );
}

export interface AddSecretInput {
  /** The secret; omitted when one is to be generated. */
  readonly secret?: Secret;
  readonly label?: string;
  readonly allowWeak?: boolean;
  readonly limits?: SecretLimits;
}

/** When a secret expires (ISO time) and how many new clients it may register. */
export interface SecretLimits {
  readonly expiresAt?: string | null;
  readonly maxUses?: number | null;
}

export interface AddedSecret {
  readonly id: string;
  readonly label: string;
  readonly weak: boolean;
  readonly expiresAt: string | null;
  readonly maxUses: number | null;
  /** Only for a generated secret: shown once, never stored. */
  readonly generated?: string;
}

/** Labels are free text for people; keep them printable and short. */
function cleanLabel(label: string | undefined): string {
  const text = (label ?? '').replace(/[\p{Cc}\p{Cf}]/gu, ' ').trim();
  if (text.length > 80) throw new UserError('bad_label', 'labels are limited to 80 characters');
  return text;
}

/**
 * Adds a secret: refuses a weak one unless `allowWeak`, a 17th active one,
 * and one that is already active. Only its PRS is stored.
 */
export async function addSecret(
  dd: DataDir,
  input: AddSecretInput,
  actor: Actor,
  now: Date,
): Promise<AddedSecret> {
  const generated = input.secret ? undefined : generateSecretText();
  const secret = input.secret ?? Secret.from(generated as string);
  const { added } = await applyChanges(
    dd,
    {
      add: [
        {
          secret,
          label: input.label,
          allowWeak: input.allowWeak,
          generated: !!generated,
          ...(input.limits ? { limits: input.limits } : {}),
        },
      ],
    },
    actor,
    now,
  );
  const row = added[0] as Omit<AddedSecret, 'generated'>;
  return generated ? { ...row, generated } : row;
}

export async function removeSecret(
  dd: DataDir,
  id: string,
  actor: Actor,
  now: Date,
): Promise<void> {
  if (!(await dd.store.secrets.remove(id, now.toISOString()))) {
    throw new UserError('unknown_secret', `no active secret has the id ${JSON.stringify(id)}`, {
      hint: 'list them with: bootstrap-server auth secret list',
    });
  }
  await dd.store.audit(
    {
      event: 'admin.secret.remove',
      route: actor.via,
      source: actor.source,
      outcome: 'removed',
      secretId: id,
    },
    now.toISOString(),
  );
}

/** Changes made on the admin page, applied together by Save. */
export interface Changes {
  readonly mode?: AuthMode;
  readonly add?: readonly {
    readonly secret: Secret;
    readonly label?: string | undefined;
    readonly allowWeak?: boolean | undefined;
    /** Made by the server (audited as such). */
    readonly generated?: boolean;
    readonly limits?: SecretLimits;
  }[];
  readonly remove?: readonly string[];
}

/**
 * Validates every change first (weak, duplicate, unknown, too many), then
 * applies them all; nothing is applied when anything is refused.
 */
export async function applyChanges(
  dd: DataDir,
  changes: Changes,
  actor: Actor,
  now: Date,
): Promise<{ added: Omit<AddedSecret, 'generated'>[] }> {
  const active = await dd.store.secrets.usableWithPrs(now.toISOString());
  const listed = await dd.store.secrets.list(now.toISOString());
  const removing = new Set(changes.remove ?? []);
  for (const id of removing) {
    if (!listed.some((s) => s.id === id))
      throw new UserError('unknown_secret', `no active secret has the id ${JSON.stringify(id)}`);
  }
  const adds = changes.add ?? [];
  const tooMany = (): UserError =>
    new UserError('too_many_secrets', `at most ${MAX_SHARES} secrets may be active`, {
      hint: 'remove one before adding another',
    });
  const removingActive = active.filter((s) => removing.has(s.id)).length;
  if (active.length - removingActive + adds.length > MAX_SHARES) throw tooMany();
  const prepared: {
    label: string;
    weak: boolean;
    prs: Buffer;
    generated: boolean;
    expiresAt: string | null;
    maxUses: number | null;
  }[] = [];
  for (const [i, add] of adds.entries()) {
    const what = adds.length === 1 ? 'the secret' : `new secret ${i + 1}`;
    const label = cleanLabel(add.label);
    const weaknesses = secretWeaknesses(add.secret);
    if (weaknesses.length > 0 && !add.allowWeak) {
      throw new UserError('weak_secret', `${what} is too weak: it needs ${weaknesses.join(', ')}`, {
        hint:
          actor.via === 'cli'
            ? 'choose a stronger secret, use --generate, or insist with --allow-weak'
            : 'choose a stronger one, generate one, or confirm "use anyway"',
      });
    }
    const prs = await derivePrs(add.secret, dd.identity.serverIdBytes, dd.kdf);
    const same = (other: Buffer): boolean =>
      other.length === 32 && timingSafeEqual(other, prs.use());
    const dup = active.find((s) => !removing.has(s.id) && same(s.prs));
    if (dup) {
      throw new UserError('duplicate_secret', `${what} is already active as ${dup.id}`, {
        hint: 'each active secret must be different',
      });
    }
    if (prepared.some((p) => same(p.prs))) {
      throw new UserError('duplicate_secret', `${what} repeats another new secret`);
    }
    prepared.push({
      label,
      weak: weaknesses.length > 0,
      prs: prs.use(),
      generated: add.generated === true,
      expiresAt: add.limits?.expiresAt ?? null,
      maxUses: add.limits?.maxUses ?? null,
    });
  }
  for (const id of removing) await removeSecret(dd, id, actor, now);
  const added: Omit<AddedSecret, 'generated'>[] = [];
  for (const p of prepared) {
    const id = `sec_${randomBytes(5).toString('hex')}`;
    const stored = await dd.store.secrets.add(
      {
        id,
        label: p.label,
        prs: p.prs,
        weak: p.weak,
        createdAt: now.toISOString(),
        expiresAt: p.expiresAt,
        maxUses: p.maxUses,
      },
      MAX_SHARES,
    );
    p.prs.fill(0);
    // Another administrator filled the last places since the check above.
    if (!stored) throw tooMany();
    await dd.store.audit(
      {
        event: 'admin.secret.add',
        route: actor.via,
        source: actor.source,
        outcome: p.weak ? 'added-weak' : 'added',
        secretId: id,
        reason: p.generated ? 'generated' : undefined,
      },
      now.toISOString(),
    );
    added.push({ id, label: p.label, weak: p.weak, expiresAt: p.expiresAt, maxUses: p.maxUses });
  }
  if (changes.mode && changes.mode !== (await readMode(dd.store)))
    await setMode(dd, changes.mode, actor, now);
  return { added };
}
