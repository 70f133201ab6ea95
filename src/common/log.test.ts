import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/cleanup.ts';
import { createLogger } from './log.ts';

describe('the log redaction format', () => {
  it('scrubs secret-named fields and registered values, keeps ids and flags', async () => {
    const file = join(tempDir('cb-log-'), 'nested', 'agent.log');
    const log = createLogger({ component: 'test', level: 'debug', file });
    log.addSensitive('Hunter2-Value-99');
    log.info('event.one', {
      secret: 'Plain-Secret-1',
      adminToken: 'tok-123',
      secretId: 'sec_ab12',
      secretRequired: true,
      secretSource: 'file',
    });
    log.warn('event.two', {
      note: 'the user typed Hunter2-Value-99 by mistake',
      nested: { password: 'pw', list: ['Hunter2-Value-99'] },
    });
    log.error('event.three', { err: new Error('failed near Hunter2-Value-99') });
    await log.close();
    const text = readFileSync(file, 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    for (const s of ['Plain-Secret-1', 'tok-123', 'Hunter2-Value-99', '"pw"'])
      expect(text).not.toContain(s);
    expect(lines[0]).toMatchObject({
      message: 'event.one',
      secret: '[redacted]',
      adminToken: '[redacted]',
      secretId: 'sec_ab12',
      secretRequired: true,
      secretSource: 'file',
    });
    expect(lines[1]).toMatchObject({
      note: 'the user typed [redacted] by mistake',
      nested: { password: '[redacted]', list: ['[redacted]'] },
    });
    expect(JSON.stringify(lines[2])).toContain('failed near [redacted]');
  });
});
