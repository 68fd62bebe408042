import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { alert, drivers, RunningApp, startApp, TestStore } from './support/harness';

/** A receiver as a customer would run it: the raw bytes and headers of every request, kept as they came. */
class Receiver {
  readonly requests: Array<{ path: string; headers: Record<string, string>; raw: Buffer; at: number }> = [];
  /** Statuses for the next requests; 200 once empty. */
  readonly script: number[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests.push({ path: req.url ?? '/', headers: req.headers as Record<string, string>, raw: Buffer.concat(chunks), at: Date.now() });
      res.writeHead(this.script.shift() ?? 200).end();
    });
  });

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async waitFor(count: number): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (this.requests.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} requests, got ${this.requests.length}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * The node:crypto receiver of docs/security.md, taken from the document itself so that what the
 * docs show is what is tested. One secret per call; a receiver knowing several tries each.
 */
function docsVerifier(): (secret: string, headers: Record<string, string>, raw: Buffer) => boolean {
  const doc = readFileSync(join(__dirname, '..', 'docs', 'security.md'), 'utf8');
  const block = /```js\n(const \{ createHmac[\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/security.md has no node:crypto example');
  return runInThisContext(`(function (require) {\n${block[1]}\nreturn verifyWebhook;\n})`)(require) as ReturnType<typeof docsVerifier>;
}
const verifiedWithNodeCrypto = (secrets: string[], headers: Record<string, string>, raw: Buffer) => secrets.some((s) => docsVerifier()(s, headers, raw));

describe.each(drivers())('signed webhooks on %s', (driver) => {
  let store: TestStore;
  let receiver: Receiver;
  let app: RunningApp | undefined;
  const [OLD, NEW, STRANGER] = [secret(), secret(), secret()];

  const start = (secrets: string, notifications: Record<string, unknown> = {}) =>
    startApp(store, {
      overrides: {
        notifications: { webhook_enabled: true, default_webhook_url: `${receiver.url}/hook`, retry_backoff_secs: 0, ...notifications },
        // The custom URL below is this local receiver.
        outbound: { allow_cidrs: ['127.0.0.1/32'] },
      },
      env: { WEBHOOK_SIGNING_SECRETS: secrets },
    });
  const raise = async (title: string): Promise<string> => (await app!.http.post('/v1/alerts').send(alert({ title })).expect(200)).body.incident_id;

  beforeEach(async () => {
    store = await TestStore.create(driver);
    receiver = await new Receiver().listen();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await receiver.close();
    await store.destroy();
  });

  it('signs every delivery so that a standardwebhooks receiver knowing either secret of a rotation verifies it', async () => {
    app = await start(`${NEW} ${OLD}`);
    const id = await raise('signed');
    await receiver.waitFor(1);
    const custom = { custom_field: 'custom_value', nested: { unicode: 'ünïcödé ✓', n: 1.5 } };
    await app.http
      .post(`/v1/incidents/${id}/notifications`)
      .send({ message: 'custom', channels: [{ type: 'webhook', url: `${receiver.url}/custom?x=1`, payload: custom }] })
      .expect(202);
    await receiver.waitFor(2);
    await app.http.post('/v1/notifications/test').send({ channel: 'webhook' }).expect(200);
    await receiver.waitFor(3);

    const log: Array<{ notification_id: string }> = (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
    expect(receiver.requests.map((r) => r.path)).toEqual(['/hook', '/custom?x=1', '/hook']);
    for (const [i, { headers, raw }] of receiver.requests.entries()) {
      expect(headers['webhook-signature'].split(' ')).toEqual([expect.stringMatching(/^v1,[A-Za-z0-9+/]{43}=$/), expect.stringMatching(/^v1,/)]);
      expect(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
      const body = JSON.parse(raw.toString('utf8'));
      // A receiver that knows only the new secret, one that knows only the old one (mid-rotation).
      expect(new Webhook(NEW).verify(raw.toString('utf8'), headers)).toEqual(body);
      expect(new Webhook(OLD).verify(raw.toString('utf8'), headers)).toEqual(body);
      expect(() => new Webhook(STRANGER).verify(raw.toString('utf8'), headers)).toThrow(WebhookVerificationError);
      expect(verifiedWithNodeCrypto([OLD], headers, raw)).toBe(true);
      expect(verifiedWithNodeCrypto([STRANGER], headers, raw)).toBe(false);
      if (i < 2) expect(headers['webhook-id']).toBe(log[i].notification_id);
    }
    // webhook-id is the notification_id, which the default payload carries too.
    expect(JSON.parse(receiver.requests[0].raw.toString()).notification_id).toBe(receiver.requests[0].headers['webhook-id']);
    expect(JSON.parse(receiver.requests[1].raw.toString())).toEqual(custom);
    expect(JSON.parse(receiver.requests[2].raw.toString())).toMatchObject({ event_type: 'notification.test' });
  });

  it('fails verification when the body, the id or the timestamp was changed', async () => {
    app = await start(NEW);
    await raise('tampered');
    await receiver.waitFor(1);
    const { headers, raw } = receiver.requests[0];
    const text = raw.toString('utf8');
    const verify = (payload: string, h: Record<string, string>) => () => new Webhook(NEW).verify(payload, h);
    expect(verify(text, headers)).not.toThrow();
    expect(verify(text.replace('"P2"', '"P0"'), headers)).toThrow('No matching signature found');
    expect(verify(`${text} `, headers)).toThrow('No matching signature found');
    expect(verify(text, { ...headers, 'webhook-id': `${headers['webhook-id']}x` })).toThrow('No matching signature found');
    expect(verify(text, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) })).toThrow('No matching signature found');
    const tampered = Buffer.from(text.replace('"P2"', '"P0"'));
    expect(verifiedWithNodeCrypto([NEW], headers, tampered)).toBe(false);
  });

  it('signs each attempt afresh at send time, and stops verifying for a secret once it is rotated out', async () => {
    app = await start(NEW, { retry_backoff_secs: 1 });
    receiver.script.push(503);
    await raise('retried');
    await receiver.waitFor(2);
    const [first, second] = receiver.requests;
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(Number(second.headers['webhook-timestamp'])).toBeGreaterThan(Number(first.headers['webhook-timestamp']));
    expect(Math.abs(Number(second.headers['webhook-timestamp']) - second.at / 1000)).toBeLessThan(2);
    for (const r of [first, second]) expect(() => new Webhook(NEW).verify(r.raw.toString(), r.headers)).not.toThrow();
    await app.close();

    app = await start(secret());
    await raise('after rotation');
    await receiver.waitFor(3);
    const last = receiver.requests[2];
    expect(last.headers['webhook-signature'].split(' ')).toHaveLength(1);
    expect(() => new Webhook(NEW).verify(last.raw.toString(), last.headers)).toThrow(WebhookVerificationError);
  });
});
