import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UserError } from './errors.ts';
import { applyKey, promptMasked, splitGraphemes } from './prompt.ts';

/** A fake terminal: bytes in, what was echoed out, and the raw-mode calls. */
function terminal() {
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    modes: [] as boolean[],
    setRawMode(mode: boolean) {
      this.isRaw = mode;
      this.modes.push(mode);
      return this;
    },
  });
  const output = new PassThrough();
  let echoed = '';
  output.on('data', (c: Buffer) => (echoed += c.toString('utf8')));
  return { input, output, echoed: () => echoed };
}

/** Types `chunks` (each a separate read) and returns the prompt's result. */
async function typeInto(chunks: (string | Buffer)[]) {
  const t = terminal();
  const answer = promptMasked(t.input, t.output, 'Secret: ');
  for (const c of chunks) {
    t.input.write(c);
    await new Promise((r) => setImmediate(r));
  }
  const value = await answer;
  return { value, echoed: t.echoed(), modes: t.input.modes, raw: t.input.isRaw };
}

/** What the echo shows at the end: asterisks after applying each "\b \b". */
function visible(echo: string): string {
  let shown = '';
  for (let i = 0; i < echo.length; i++) {
    if (echo.startsWith('\b \b', i)) {
      shown = shown.slice(0, -1);
      i += 2;
    } else shown += echo[i];
  }
  return shown;
}

describe('applyKey', () => {
  it.each([
    ['a letter', 'ab', 'c', { name: 'c' }, 'abc'],
    ['a multi-byte character', 'ab', 'é', {}, 'abé'],
    ['an escape sequence (no text)', 'ab', undefined, { name: 'left' }, 'ab'],
    ['Alt+x (meta)', 'ab', undefined, { name: 'x', meta: true }, 'ab'],
    ['Ctrl-A', 'ab', '\u0001', { name: 'a', ctrl: true }, 'ab'],
    ['a tab', 'ab', '\t', { name: 'tab' }, 'ab'],
    ['a C1 control', 'ab', '\u009b', {}, 'ab'],
    ['backspace', 'abc', '\u007f', { name: 'backspace' }, 'ab'],
    ['backspace on an emoji', 'a\u{1F600}', '\u007f', { name: 'backspace' }, 'a'],
    ['backspace on a combining sequence', 'ae\u0301', '\b', { name: 'backspace' }, 'a'],
    ['backspace on a flag', 'a\u{1F1E9}\u{1F1EA}', '\b', { name: 'backspace' }, 'a'],
    ['backspace on empty', '', '\u007f', { name: 'backspace' }, ''],
    ['Ctrl-U', 'abc def', '\u0015', { name: 'u', ctrl: true }, ''],
    ['Ctrl-W', 'abc def  ', '\u0017', { name: 'w', ctrl: true }, 'abc '],
    ['Ctrl-D on a non-empty line', 'ab', '\u0004', { name: 'd', ctrl: true }, 'ab'],
  ])('%s', (_what, before, text, key, after) => {
    const r = applyKey(before, text, key);
    expect(r).toEqual({ value: after });
  });

  it.each([
    ['Enter (CR)', 'ab', { name: 'return' }, 'submit'],
    ['Enter (LF)', 'ab', { name: 'enter' }, 'submit'],
    ['Ctrl-C', 'ab', { name: 'c', ctrl: true }, 'interrupt'],
    ['Ctrl-D on an empty line', '', { name: 'd', ctrl: true }, 'eof'],
  ] as const)('%s ends the entry', (_what, before, key, end) => {
    expect(applyKey(before, undefined, key).end).toBe(end);
  });

  it('counts what a person sees as one character', () => {
    expect(splitGraphemes('e\u0301\u{1F468}\u200D\u{1F469}日本')).toHaveLength(4);
  });
});

describe('promptMasked', () => {
  it('ignores arrow keys, Home/End, F-keys and other CSI/SS3 sequences', async () => {
    const secret = 'abcdefghijklmnopqrstuvwx';
    const r = await typeInto([
      secret,
      '\u001b[D',
      'y',
      '\u001b[C\u001b[H\u001b[F\u001bOP\u001b[15~\u001b[1;5C\u001b[200~',
      '\r',
    ]);
    expect(r.value).toBe(`${secret}y`);
    expect(visible(r.echoed)).toBe(`Secret: ${'*'.repeat(25)}\n`);
  });

  it('backspace (DEL and ^H) removes one whole character and its asterisk', async () => {
    const r = await typeInto(['pa\u{1F600}', '\u007f', 'ss\u00e9', '\b', 'x\r']);
    expect(r.value).toBe('passx');
    expect(visible(r.echoed)).toBe('Secret: *****\n');
  });

  it('Ctrl-U clears the line and its asterisks; Ctrl-W a word', async () => {
    const r = await typeInto(['wrong', '\u0015', 'good ', 'bad', '\u0017', 'one\r']);
    expect(r.value).toBe('good one');
    expect(visible(r.echoed)).toBe('Secret: ********\n');
  });

  it('a UTF-8 character split across reads arrives whole', async () => {
    const bytes = Buffer.from('é日本\u{1F511}', 'utf8');
    const r = await typeInto([
      bytes.subarray(0, 1),
      bytes.subarray(1, 3),
      bytes.subarray(3, 8),
      bytes.subarray(8),
      '\r',
    ]);
    expect(r.value).toBe('é日本\u{1F511}');
    expect(visible(r.echoed)).toBe('Secret: ****\n');
  });

  it('a paste arrives in one chunk; its trailing newline ends the entry', async () => {
    const r = await typeInto(['pasted-secret-\u00fc\n']);
    expect(r.value).toBe('pasted-secret-\u00fc');
    expect(r.echoed).not.toContain('pasted');
  });

  it('an empty Enter returns an empty value (the caller asks again)', async () => {
    expect((await typeInto(['\r'])).value).toBe('');
  });

  it('Ctrl-C rejects with interrupted and restores the mode', async () => {
    const t = terminal();
    const answer = promptMasked(t.input, t.output, 'Secret: ');
    t.input.write('abc\u0003');
    const err = await answer.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('interrupted');
    expect(t.input.modes).toEqual([true, false]);
    expect(t.echoed()).not.toContain('abc');
  });

  it('Ctrl-D on an empty line, or the terminal closing, rejects with secret_missing', async () => {
    const t = terminal();
    const answer = promptMasked(t.input, t.output, 'Secret: ');
    t.input.write('\u0004');
    await expect(answer).rejects.toMatchObject({ code: 'secret_missing' });
    expect(t.input.isRaw).toBe(false);
    const closed = terminal();
    const second = promptMasked(closed.input, closed.output, 'Secret: ');
    closed.input.write('ab');
    closed.input.end();
    await expect(second).rejects.toMatchObject({ code: 'secret_missing' });
    expect(closed.input.isRaw).toBe(false);
  });

  it('restores the mode after Enter, and a second prompt on the same stream works', async () => {
    const t = terminal();
    const first = promptMasked(t.input, t.output, 'A: ');
    t.input.write('one\r');
    expect(await first).toBe('one');
    const second = promptMasked(t.input, t.output, 'B: ');
    t.input.write('two\r');
    expect(await second).toBe('two');
    expect(t.input.modes).toEqual([true, false, true, false]);
  });
});
