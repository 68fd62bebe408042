import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { embeddedIpv4, nonPublicKind } from '../src/common/outbound/address-policy';
import { OutboundPolicy } from '../src/common/outbound/outbound-policy';
import { FakeTarget, WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { alert, drivers, RunningApp, startApp, TestStore } from './support/harness';

/**
 * Network rule of these tests: nothing connects anywhere but loopback. Internal and metadata
 * addresses (10.0.0.1, 169.254.169.254) are classified by the policy itself or refused at accept
 * time, which never connects; names other than localhost go through a scripted resolver.
 */

const NO_ALLOWANCE = { allow_hosts: [], allow_cidrs: [] };
const scripted = (answers: Record<string, string[]>) => (hostname: string) =>
  Promise.resolve((answers[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));

describe('address classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private (carrier-grade NAT)'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:0:10.0.0.1', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::169.254.169.254', 'link-local'],
    ['2002:a00:1::', 'private'],
  ])('%s is %s', (address, kind) => {
    expect(nonPublicKind(address)).toBe(kind);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '100.128.0.1', '11.0.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    '%s is public',
    (address) => {
      expect(nonPublicKind(address)).toBeUndefined();
    },
  );

  it('reads the IPv4 address inside mapped, translated, compatible, NAT64 and 6to4 forms', () => {
    expect(['::ffff:1.2.3.4', '::ffff:0:1.2.3.4', '::1.2.3.4', '64:ff9b::102:304', '2002:102:304::1'].map(embeddedIpv4)).toEqual(Array(5).fill('1.2.3.4'));
    expect(['::1', '::', '2001:db8::1', 'fe80::1'].map(embeddedIpv4)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('the outbound policy', () => {
  const policy = new OutboundPolicy(NO_ALLOWANCE, scripted({}));

  it('refuses other schemes and URLs with credentials', () => {
    expect(policy.refusedUrl('ftp://example.com/x')).toBe('only http and https URLs are allowed, not ftp');
    expect(policy.refusedUrl('file:///etc/passwd')).toBe('only http and https URLs are allowed, not file');
    expect(policy.refusedUrl('gopher://example.com/')).toBe('only http and https URLs are allowed, not gopher');
    expect(policy.refusedUrl('http://user:pass@example.com/')).toBe('a URL with credentials (user:password@) is not allowed');
    expect(policy.refusedUrl('https://token@example.com/')).toBe('a URL with credentials (user:password@) is not allowed');
    expect(policy.refusedUrl('https://example.com/hook')).toBeUndefined();
  });

  it('judges IP-literal hosts in every spelling the URL parser accepts', () => {
    for (const url of [
      'http://2130706433/',
      'http://0x7f000001/',
      'http://0177.0.0.1/',
      'http://127.1/',
      'http://0x7f.1:8080/',
      'http://[::ffff:127.0.0.1]/',
    ]) {
      expect([url, policy.refusedUrl(url)]).toEqual([url, expect.stringMatching(/^(127\.0\.0\.1|::ffff:7f00:1) is a loopback address$/)]);
    }
    expect(policy.refusedUrl('http://169.254.169.254/latest/meta-data/')).toBe('169.254.169.254 is a link-local address');
    expect(policy.refusedUrl('http://[::ffff:a9fe:a9fe]/')).toBe('::ffff:a9fe:a9fe is a link-local address');
    expect(policy.refusedUrl('http://[fd00::1]:9000/')).toBe('fd00::1 is a unique-local address');
    expect(policy.refusedUrl('http://0.0.0.0:8080/')).toBe('0.0.0.0 is a unspecified address');
    expect(policy.refusedUrl('http://8.8.8.8/')).toBeUndefined();
  });

  it('checks every address a name resolves to', async () => {
    const resolving = new OutboundPolicy(
      NO_ALLOWANCE,
      scripted({ 'public.test': ['93.184.216.34', '2606:2800:220:1::1'], 'mixed.test': ['93.184.216.34', '10.0.0.7'], 'meta.test': ['169.254.169.254'] }),
    );
    expect(await resolving.refusal('https://public.test/hook')).toBeUndefined();
    expect(await resolving.refusal('https://mixed.test/hook')).toBe('mixed.test resolves to a private address');
    expect(await resolving.refusal('http://meta.test/latest/meta-data/')).toBe('meta.test resolves to a link-local address');
    expect(await resolving.refusal('http://nowhere.test/')).toBe('nowhere.test resolves to no address');
    const failing = new OutboundPolicy(NO_ALLOWANCE, () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })));
    expect(await failing.refusal('http://gone.test/')).toBe('gone.test cannot be resolved (ENOTFOUND)');
  });

  it('lets operators allow host names and address ranges', async () => {
    const allowing = new OutboundPolicy(
      { allow_hosts: ['Hooks.Internal.test'], allow_cidrs: ['10.20.0.0/16', '127.0.0.1/32', 'fd12:3456::/32'] },
      scripted({ 'hooks.internal.test': ['10.99.0.1'], 'svc.test': ['10.20.1.2'], 'other.test': ['10.21.0.1'], 'v6.test': ['fd12:3456::5'] }),
    );
    expect(await allowing.refusal('http://hooks.internal.test./x')).toBeUndefined();
    expect(await allowing.refusal('http://svc.test/x')).toBeUndefined();
    expect(await allowing.refusal('http://other.test/x')).toBe('other.test resolves to a private address');
    expect(await allowing.refusal('http://v6.test/x')).toBeUndefined();
    expect(allowing.refusedUrl('http://127.0.0.1:9/')).toBeUndefined();
    expect(allowing.refusedUrl('http://[::ffff:127.0.0.1]:9/')).toBeUndefined(); // judged by its IPv4 address
    expect(allowing.refusedUrl('http://127.0.0.2:9/')).toBe('127.0.0.2 is a loopback address');
    expect(allowing.refusedUrl('http://user:pw@svc.test/')).toBe('a URL with credentials (user:password@) is not allowed');
  });
});

describe('connections through the policy', () => {
  let server: http.Server;
  let port: number;
  let hits: number;
  beforeEach(async () => {
    hits = 0;
    server = http.createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(() => new Promise((resolve) => server.close(resolve)));

  const post = (policy: OutboundPolicy, url: string) => {
    const agent = new Agent({ connect: { timeout: 2000, lookup: policy.lookup() } });
    return request(url, { method: 'POST', body: '{}', dispatcher: agent }).finally(() => agent.close());
  };

  it('connects to the address it checked, so a name that rebinds after the check is refused', async () => {
    // DNS rebinding: public when the request is accepted, loopback when the connection is made.
    const answers = [['93.184.216.34'], ['127.0.0.1']];
    const policy = new OutboundPolicy(NO_ALLOWANCE, () => Promise.resolve(answers.shift()!.map((address) => ({ address, family: 4 }))));
    expect(await policy.refusal(`http://rebind.test:${port}/hook`)).toBeUndefined();
    await expect(post(policy, `http://rebind.test:${port}/hook`)).rejects.toMatchObject({
      code: 'ERR_OUTBOUND_REFUSED',
      message: 'refused: rebind.test resolves to a loopback address',
    });
    expect(hits).toBe(0);
  });

  it('takes the connection to the address the policy resolved, not one of its own', async () => {
    const policy = new OutboundPolicy({ allow_hosts: [], allow_cidrs: ['127.0.0.1/32'] }, scripted({ 'checked.test': ['127.0.0.1'] }));
    const res = await post(policy, `http://checked.test:${port}/hook`);
    expect([res.statusCode, await res.body.text(), hits]).toEqual([200, 'ok', 1]);
  });
});

interface Delivery {
  notification_id: string;
  channel: string;
  target: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

describe.each(drivers())('request-supplied webhook URLs on %s', (driver) => {
  let store: TestStore;
  let sink: FakeTarget;
  let target: FakeTarget;
  let app: RunningApp | undefined;

  const start = (outbound: Record<string, unknown> = {}, notifications: Record<string, unknown> = {}) =>
    startApp(store, {
      overrides: { notifications: { webhook_enabled: true, default_webhook_url: `${sink.url}/hook`, retry_backoff_secs: 0, ...notifications }, outbound },
      env: WEBHOOK_SIGNING_ENV,
    });
  const log = async (id: string): Promise<Delivery[]> => (await app!.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
  const until = async (id: string, done: (l: Delivery[]) => boolean): Promise<Delivery[]> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const list = await log(id);
      if (done(list)) return list;
      if (Date.now() > deadline) throw new Error(`deliveries never settled: ${JSON.stringify(list)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  /** An incident whose automatic webhook (to the configured, trusted URL) has been sent. */
  const incident = async (): Promise<string> => {
    const id = (await app!.http.post('/v1/alerts').send(alert()).expect(200)).body.incident_id as string;
    await until(id, (l) => l.length === 1 && l[0].status === 'sent');
    return id;
  };
  const notify = (id: string, url: string) =>
    app!.http.post(`/v1/incidents/${id}/notifications`).send({ message: 'to a custom URL', channels: [{ type: 'webhook', url }] });

  beforeEach(async () => {
    store = await TestStore.create(driver);
    [sink, target] = await Promise.all([webhookSink(), webhookSink()]);
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await Promise.all([sink.close(), target.close()]);
    await store.destroy();
  });

  it('refuses internal addresses when the request is accepted, naming the field, and never connects', async () => {
    app = await start();
    const id = await incident();
    const port = new URL(target.url).port;
    const refused: Array<[string, string]> = [
      [`http://127.0.0.1:${port}/internal-admin`, '127.0.0.1 is a loopback address'],
      [`http://localhost:${port}/x`, 'localhost resolves to'],
      [`http://2130706433:${port}/x`, '127.0.0.1 is a loopback address'],
      [`http://[::ffff:127.0.0.1]:${port}/x`, '::ffff:7f00:1 is a loopback address'],
      [`http://[::1]:${port}/x`, '::1 is a loopback address'],
      ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a link-local address'],
      ['http://10.0.0.1/hook', '10.0.0.1 is a private address'],
      [`http://user:secret@127.0.0.1:${port}/x`, 'a URL with credentials (user:password@) is not allowed'],
    ];
    for (const [url, reason] of refused) {
      const res = await notify(id, url).expect(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.fields).toEqual([{ field: 'channels[0].url', message: expect.stringContaining(reason) }]);
      expect(res.body.error.details.fields[0].message).toMatch(/^refused by the outbound policy: /);
    }
    expect(await log(id)).toHaveLength(1); // nothing written
    expect(target.attempts).toHaveLength(0);
  });

  it('sends the same request once the operator allows the range or the host name', async () => {
    app = await start({ allow_cidrs: ['127.0.0.1/32'] });
    const id = await incident();
    const port = new URL(target.url).port;
    await notify(id, `http://127.0.0.1:${port}/internal-admin`).expect(202);
    await notify(id, `http://2130706433:${port}/decimal`).expect(202);
    await target.waitFor(2);
    await app.close();

    app = await start({ allow_hosts: ['localhost'] });
    await notify(id, `http://localhost:${port}/by-name`).expect(202);
    await notify(id, `http://127.0.0.1:${port}/literal`).expect(400);
    await target.waitFor(3);
    expect(target.received.map((r) => r.path)).toEqual(['/internal-admin', '/decimal', '/by-name']);
    expect((await until(id, (l) => l.length === 4 && l.every((d) => d.status === 'sent'))).map((d) => d.status)).toEqual(Array(4).fill('sent'));
  });

  it('fails a delivery permanently when its target is refused at send time (accepted while allowed, allowance removed)', async () => {
    app = await start({ allow_cidrs: ['127.0.0.1/32'], allow_hosts: ['localhost'] }, { retry_backoff_secs: 2 });
    const id = await incident();
    target.script.push({ status: 503, body: 'busy' }, { status: 503, body: 'busy' });
    await notify(id, `${target.url}/literal`).expect(202);
    await notify(id, `http://localhost:${new URL(target.url).port}/by-name`).expect(202);
    await until(id, (l) => l.length === 3 && l.slice(1).every((d) => d.attempts === 1 && d.status === 'pending'));
    await app.close();

    // Same store, no allowance: the IP literal is judged before connecting, the name by the connection's lookup.
    app = await start({}, { retry_backoff_secs: 2 });
    const [, literal, byName] = await until(id, (l) => l.slice(1).every((d) => d.status === 'failed'));
    expect(literal).toMatchObject({ attempts: 2, last_error: 'refused: 127.0.0.1 is a loopback address' });
    expect(byName).toMatchObject({ attempts: 2, last_error: expect.stringMatching(/^refused: localhost resolves to a loopback address$/) });
    expect(target.attempts.map((r) => r.path).sort()).toEqual(['/by-name', '/literal']);
  });

  it('does not follow redirects', async () => {
    app = await start({ allow_cidrs: ['127.0.0.1/32'] });
    const id = await incident();
    target.always = { status: 302, headers: { location: `${sink.url}/redirected` } };
    await notify(id, `${target.url}/moved`).expect(202);
    const [, custom] = await until(id, (l) => l.length === 2 && l[1].status === 'failed');
    expect(custom).toMatchObject({ attempts: 1, last_error: 'webhook answered HTTP 302' });
    expect(sink.attempts.map((r) => r.path)).toEqual(['/hook']);
  });
});
