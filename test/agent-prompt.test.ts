/**
 * The masked prompt as a technician meets it: the real agent in a real
 * pseudo-terminal (test/support/pty-run.py), keys sent as the terminal
 * sends them, registering at a real server.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from './support/deploy.ts';
import type { Deployment } from './support/deploy.ts';
import { BIN, ROOT, runCommand, tempDir } from './support/procs.ts';

/** 24 characters, as in the issue. */
const SECRET = 'Prompt-Secret-24-chars-x';
/** Multi-byte: two-byte, three-byte, four-byte (astral) and a combining sequence (NFC-normalised). */
const MB_SECRET = 'Schl\u00fcssel-\u65e5\u672c-\u{1F511}-cafe\u0301-42';
let d: Deployment;

beforeAll(async () => {
  d = await deploy([SECRET, MB_SECRET]);
});
afterAll(async () => {
  await d?.stop();
});

type Answer = string | { keys: string[] };

/** Python escapes for raw bytes (so a chunk can end inside a UTF-8 sequence). */
const bytes = (b: Buffer): string =>
  [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');

/** Runs the agent in a pty; with `stty`, the terminal's mode is printed after it exits. */
async function inPty(
  answers: Answer[],
  opts: { stty?: boolean; extra?: string[] } = {},
): Promise<{ code: number; output: string }> {
  const agent = [
    process.execPath,
    BIN.agent,
    '--server',
    d.server.url,
    `--server-pin=${d.server.pin}`,
    '--state-dir',
    join(tempDir(), 'state'),
    ...(opts.extra ?? []),
  ];
  const argv = opts.stty
    ? ['sh', '-c', '"$@"; code=$?; echo "[stty] $(stty -a)"; exit $code', 'sh', ...agent]
    : agent;
  const r = await runCommand(
    'python3',
    [join(ROOT, 'test/support/pty-run.py'), JSON.stringify({ argv, answers, timeout: 40 })],
    { timeoutMs: 50_000, env: { LANG: 'C.UTF-8', LC_ALL: '' } },
  );
  try {
    return JSON.parse(r.stdout) as { code: number; output: string };
  } catch (err) {
    throw new Error(`pty-run failed (exit ${r.code}): ${r.stdout}\n${r.stderr}`, { cause: err });
  }
}

/** The asterisks each prompt shows at the end, after the echo's "\b \b" erasures. */
function shownAtPrompts(output: string): string[] {
  const shown: string[] = [];
  for (const m of output.matchAll(/Authorization secret[^:\n]*: ([*\b ]*)/g)) {
    let s = '';
    const echo = m[1] as string;
    for (let i = 0; i < echo.length; i++) {
      if (echo.startsWith('\b \b', i)) {
        s = s.slice(0, -1);
        i += 2;
      } else s += echo[i];
    }
    shown.push(s);
  }
  return shown;
}

describe('the masked prompt in a real terminal', () => {
  it('arrow keys, Home/End and F-keys inside the secret are ignored', async () => {
    const r = await inPty([
      {
        keys: [
          SECRET.slice(0, 12),
          '\\x1b[D',
          '\\x1b[C',
          '\\x1b[H\\x1b[F\\x1bOP\\x1b[15~\\x1b[1;5D',
          SECRET.slice(12),
          '\\r',
        ],
      },
    ]);
    expect(r.output).toMatch(/registered as client/);
    expect(r.code).toBe(0);
    expect(shownAtPrompts(r.output)).toEqual(['*'.repeat(24)]);
  });

  it('Backspace (DEL and ^H) removes one whole character, with its asterisk', async () => {
    const r = await inPty([
      { keys: [`${SECRET}x`, '\u65e5\u{1F511}', '\\x7f\\x7f', '\\x08', '\\r'] },
    ]);
    expect(r.code).toBe(0);
    expect(shownAtPrompts(r.output)).toEqual(['*'.repeat(24)]);
  });

  it('Ctrl-U clears what was typed', async () => {
    const r = await inPty([{ keys: ['typed-the-wrong-thing', '\\x15', SECRET, '\\r'] }]);
    expect(r.code).toBe(0);
    expect(shownAtPrompts(r.output)).toEqual(['*'.repeat(24)]);
  });

  it('a multi-byte secret, its UTF-8 split across reads, registers', async () => {
    const raw = Buffer.from(MB_SECRET, 'utf8');
    // Cut inside ü (2 bytes), 日 (3 bytes) and the key emoji (4 bytes).
    const u = raw.indexOf(Buffer.from('\u00fc')) + 1;
    const ri = raw.indexOf(Buffer.from('\u65e5')) + 2;
    const key = raw.indexOf(Buffer.from('\u{1F511}')) + 3;
    const chunks = [
      raw.subarray(0, u),
      raw.subarray(u, ri),
      raw.subarray(ri, key),
      raw.subarray(key),
    ];
    const r = await inPty([{ keys: [...chunks.map(bytes), '\\r'] }]);
    expect(r.output).toMatch(/registered as client/);
    expect(r.code).toBe(0);
    // One asterisk per character seen: "é" typed as e + combining acute is one.
    expect(shownAtPrompts(r.output)).toEqual([
      '*'.repeat([...new Intl.Segmenter().segment(MB_SECRET)].length),
    ]);
    expect(r.output).not.toContain('\u65e5');
  });

  it('a paste arrives in one piece; its trailing newline ends the entry', async () => {
    const r = await inPty([{ keys: [`${SECRET}\\n`] }]);
    expect(r.code).toBe(0);
    expect(r.output).not.toContain(SECRET);
  });

  it('an empty Enter asks again with a short note', async () => {
    const r = await inPty(['', SECRET]);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/nothing was typed/);
    expect(shownAtPrompts(r.output)).toEqual(['', '*'.repeat(24)]);
  });

  it('Ctrl-C exits 130, "interrupted at the prompt", and the terminal is restored', async () => {
    const r = await inPty([{ keys: ['abc', '\\x03'] }], { stty: true });
    expect(r.output).toMatch(/interrupted at the prompt/);
    expect(r.output).not.toMatch(/refused/);
    expect(r.output).toMatch(/what to do: nothing was sent/);
    expect(r.code).toBe(130);
    const stty = /\[stty\]([\s\S]*)$/.exec(r.output)?.[1] ?? '';
    expect(stty).toMatch(/(^|\s)icanon(\s|$)/);
    expect(stty).toMatch(/(^|\s)echo(\s|$)/);
  });

  it('Ctrl-D on an empty line exits 3, "no secret was entered", and the terminal is restored', async () => {
    const r = await inPty([{ keys: ['\\x04'] }], { stty: true });
    expect(r.output).toMatch(/no secret was entered/);
    expect(r.output).toMatch(/what to do: run the command again and type the secret/);
    expect(r.code).toBe(3);
    const stty = /\[stty\]([\s\S]*)$/.exec(r.output)?.[1] ?? '';
    expect(stty).toMatch(/(^|\s)icanon(\s|$)/);
    expect(stty).toMatch(/(^|\s)echo(\s|$)/);
  });

  it('a wrong then the right secret: the probe lines appear once, only the prompt again', async () => {
    const r = await inPty(['Wrong-Secret-24-chars-xx', SECRET]);
    expect(r.code).toBe(0);
    expect(r.output.match(/checking server/g)).toHaveLength(1);
    expect(r.output.match(/reachable in/g)).toHaveLength(1);
    expect(r.output).toMatch(/attempt 2 of 3/);
    expect(shownAtPrompts(r.output)).toEqual(['*'.repeat(24), '*'.repeat(24)]);
    expect(r.output).toMatch(/registered as client/);
  });

  it('after three wrong secrets, the hint is what a technician can do', async () => {
    const r = await inPty(['Wrong-Secret-1', 'Wrong-Secret-2', 'Wrong-Secret-3']);
    expect(r.code).toBe(4);
    expect(r.output).toMatch(
      /what to do: check the spelling of the secret, or ask the administrator/,
    );
    expect(r.output).not.toMatch(/bootstrap-server/);
    expect(r.output.match(/reachable in/g)).toHaveLength(1);
  });
});
