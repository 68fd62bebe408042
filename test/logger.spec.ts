import { PassThrough } from 'node:stream';
import { AppLogger, logFormatOf } from '../src/common/logger';

function capture(format: 'json' | 'pretty'): { logger: AppLogger; text: () => string } {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d: Buffer) => (text += d.toString()));
  return { logger: new AppLogger('info', sink, format), text: () => text };
}

describe('log format', () => {
  it.each([
    [{}, true, 'pretty'],
    [{}, false, 'json'],
    [{ LOG_FORMAT: 'json' }, true, 'json'],
    [{ LOG_FORMAT: 'pretty' }, false, 'pretty'],
  ] as const)('env %j with a terminal %s → %s', (env, tty, expected) => {
    expect(logFormatOf(env, tty)).toBe(expected);
  });

  it('writes one JSON object per line in json, with secrets redacted', () => {
    const { logger, text } = capture('json');
    logger.log({ msg: 'delivered', channel: 'webhook', authorization: 'Bearer s3cret' }, 'Notifications');
    const line = JSON.parse(text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, msg: 'delivered', channel: 'webhook', context: 'Notifications', authorization: '[redacted]' });
  });

  it('writes readable lines in pretty, still without secrets', async () => {
    const { logger, text } = capture('pretty');
    logger.warn({ msg: 'channel enabled but not configured', channel: 'slack', token: 'xoxb-s3cret' }, 'Notifications');
    await new Promise((resolve) => setImmediate(resolve));
    const out = text();
    expect(() => JSON.parse(out.trim())).toThrow();
    expect(out).toMatch(/WARN.*channel enabled but not configured/);
    expect(out).toContain('channel: "slack"');
    expect(out).not.toContain('xoxb-s3cret');
  });
});
