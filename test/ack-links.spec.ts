import { createHash } from 'node:crypto';
import { signLink } from '../src/common/signed-link';
import { EscalationService } from '../src/notifications/escalation/escalation.service';
import { FakeSmtp } from './support/fakes';
import { alert, drivers, ManualClock, RunningApp, startApp, TestStore, waitUntil } from './support/harness';

/** What a browser asks for: the pages are HTML for it, JSON for any other client. */
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/**
 * One-click acknowledgement from an email, end to end with a real SMTP server: the email to a
 * person carries a signed, single-use, expiring link (text and HTML parts; emails to a receiver
 * do not); GET shows a confirmation page and changes nothing; the page's POST acknowledges as the
 * person and stops the escalation; a replay, an expired, a forged and a deactivated user's link
 * are refused and change nothing.
 */
const PUBLIC_URL = 'https://incidents.example.com';
const LINK_SECRET = 'ack-link-secret-for-tests-0123456789abcdef';
const TTL_SECS = 600;
const LINK = /Acknowledge \(one click, as you\): (https:\/\/incidents\.example\.com\/v1\/ack\/\S+)/;

describe.each(drivers())('acknowledgement links on %s', (driver) => {
  let store: TestStore;
  let app: RunningApp;
  let smtp: FakeSmtp;
  let clock: ManualClock;
  const ids: Record<string, string> = {};

  const mailsTo = (address: string, title: string) => smtp.received.filter((m) => m.envelopeTo.includes(address) && m.mail.subject?.includes(title));
  async function raise(labels: Record<string, string>, title: string): Promise<string> {
    return (
      await app.http
        .post('/v1/alerts')
        .send(alert({ severity: 'P1', labels, title }))
        .expect(200)
    ).body.incident_id;
  }
  async function incident(id: string): Promise<{ state: string; acknowledged_by: string | null; acknowledged_at: string | null }> {
    return (await app.http.get(`/v1/incidents/${id}`).expect(200)).body;
  }
  async function timeline(id: string): Promise<{ event_type: string; actor: string; description: string; metadata: any }[]> {
    return (await app.http.get(`/v1/incidents/${id}/timeline`).expect(200)).body;
  }
  /** The link the person's email carried, as a path on this service. */
  async function linkFor(address: string, title: string): Promise<string> {
    await waitUntil(() => mailsTo(address, title).length > 0, `the email to ${address} about ${title}`);
    const url = LINK.exec(mailsTo(address, title)[0].mail.text ?? '')?.[1];
    expect(url).toBeDefined();
    return new URL(url!).pathname;
  }

  beforeAll(async () => {
    smtp = await new FakeSmtp('pager', 'pager-pass').listen();
    store = await TestStore.create(driver);
    clock = new ManualClock();
    app = await startApp(store, {
      clock,
      env: { LLM_IM_LINK_SECRET: LINK_SECRET, TEST_SMTP_USER: 'pager', TEST_SMTP_PASSWORD: 'pager-pass' },
      overrides: {
        server: { public_url: PUBLIC_URL, ack_link_ttl_secs: TTL_SECS },
        notifications: {
          email_enabled: true,
          smtp_server: '127.0.0.1',
          smtp_port: smtp.port,
          smtp_use_tls: true,
          smtp_tls_verify: false,
          smtp_username_env: 'TEST_SMTP_USER',
          smtp_password_env: 'TEST_SMTP_PASSWORD',
          email_from: 'incidents@example.com',
          email_to: ['everyone@example.com'],
          retry_backoff_secs: 0,
        },
        escalation_policies: [{ name: 'pay', steps: [{ after: '5m', user: 'lead@example.com' }] }] as never,
        route: {
          receiver: 'default',
          routes: [
            { name: 'pay', matchers: ['team="pay"'], receiver: 'user:ana@example.com', escalation: 'pay' },
            { name: 'cy', matchers: ['team="cy"'], receiver: 'user:cy@example.com' },
          ],
        },
      },
    });
    for (const [key, name, email] of [
      ['ana', 'Ana Lima', 'ana@example.com'],
      ['lead', 'Lea Brandt', 'lead@example.com'],
      ['cy', 'Cy Moreau', 'cy@example.com'],
    ])
      ids[key] = (await app.http.post('/v1/users').send({ name, email, time_zone: 'Europe/Berlin' }).expect(201)).body.id;
  });

  afterAll(async () => {
    await app.close();
    await smtp.close();
    await store.destroy();
  });

  it('puts the link in both parts of a person’s email, shows a page on GET that changes nothing, acknowledges on POST as the person, and refuses a replay', async () => {
    const id = await raise({ team: 'pay' }, 'Checkout failing');
    const path = await linkFor('ana@example.com', 'Checkout failing');
    const [mail] = mailsTo('ana@example.com', 'Checkout failing');
    expect(mail.mail.html).toContain(`<a href="${PUBLIC_URL}${path}"`);
    expect(mail.mail.text).toContain(`Open in the console: ${PUBLIC_URL}/incidents/${id}`);
    // The delivery log shows where the link points, never its token.
    const [row] = (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
    expect(JSON.stringify(row.payload)).toContain('/v1/ack/(token hidden)');
    expect(JSON.stringify(row.payload)).not.toContain(path);

    // GET (a mail scanner, a preview, the person) shows what the link does, and does nothing.
    for (let i = 0; i < 2; i++) {
      const page = await app.anon.get(path).set('accept', BROWSER).expect(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.headers['x-robots-tag']).toContain('noindex');
      const csp = page.headers['content-security-policy'];
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("form-action 'self'");
      // Self-contained: its one style block is what the policy allows, by hash; no script, no outside address.
      const style = /<style>([^<]*)<\/style>/.exec(page.text)![1];
      expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
      expect(page.text).not.toMatch(/<script|<img|<link|src=/);
      expect(page.text).toContain('<meta name="viewport"');
      expect(page.text).toContain('<span class="sev P1">P1</span>Checkout failing');
      expect(page.text).toContain('<dt>State</dt><dd>Detected</dd>');
      expect(page.text).toContain('Ana Lima (ana@example.com)');
      expect(page.text).toContain('<form method="post"><button type="submit">Acknowledge as Ana Lima</button></form>');
    }
    expect(await incident(id)).toMatchObject({ state: 'Detected', acknowledged_at: null });
    expect((await timeline(id)).filter((e) => e.event_type === 'acknowledged')).toEqual([]);

    // The button: a browser posts the empty form to the same address.
    const done = await app.anon.post(path).type('form').set('accept', BROWSER).send('').expect(200);
    expect(done.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(done.text).toContain('<h1>Acknowledged</h1>');
    expect(done.text).toContain('You acknowledged it as Ana Lima: the escalation has stopped.');
    expect(await incident(id)).toMatchObject({ state: 'Triaged', acknowledged_by: 'Ana Lima' });
    expect((await timeline(id)).filter((e) => e.event_type === 'acknowledged').map((e) => [e.actor, e.description, e.metadata])).toEqual([
      ['Ana Lima', 'Acknowledged by Ana Lima', { note: 'from the email link' }],
    ]);

    // The lead's step (after 5 minutes) was cancelled by the acknowledgement.
    clock.advance(301);
    await app.app.get(EscalationService).tick();
    // The tick writes what it sends in its own transaction: nothing stored for the lead means nothing goes.
    const written = (await app.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body as { target: string }[];
    expect(written.filter((d) => d.target === 'lead@example.com')).toEqual([]);
    expect(mailsTo('lead@example.com', 'Checkout failing')).toEqual([]);

    // A replay: refused, on POST and GET alike.
    const replay = await app.anon.post(path).type('form').set('accept', BROWSER).send('').expect(410);
    expect(replay.text).toContain('This link was already used');
    await app.anon.get(path).set('accept', BROWSER).expect(410);
    // A client that is not a browser gets the API's error envelope.
    expect((await app.anon.post(path).set('accept', 'application/json').expect(410)).body.error).toMatchObject({
      code: 'LINK_GONE',
      message: 'This link was already used',
      details: { reason: 'used', incident_id: id },
    });
  });

  it('keeps emails to a receiver without a link', async () => {
    await raise({}, 'Receiver only');
    await waitUntil(() => mailsTo('everyone@example.com', 'Receiver only').length === 1, 'the receiver email');
    const [mail] = mailsTo('everyone@example.com', 'Receiver only');
    expect(mail.mail.text).not.toContain('/v1/ack/');
    expect(mail.mail.html).not.toContain('/v1/ack/');
  });

  it('says who acknowledged first when someone else did, and changes nothing', async () => {
    const id = await raise({ team: 'pay' }, 'Someone was faster');
    const path = await linkFor('ana@example.com', 'Someone was faster');
    await app.http.post(`/v1/incidents/${id}/acknowledge`).send({ actor: 'Ben' }).expect(200);
    const page = await app.anon.get(path).set('accept', BROWSER).expect(200);
    expect(page.text).toContain('Already acknowledged by Ben');
    expect(page.text).not.toContain('<form');
    expect((await app.anon.post(path).set('accept', 'application/json').expect(200)).body).toEqual({
      incident_id: id,
      applied: false,
      text: 'Already acknowledged by Ben',
    });
    expect(await incident(id)).toMatchObject({ acknowledged_by: 'Ben' });
  });

  it('refuses an expired link and changes nothing', async () => {
    const id = await raise({ team: 'pay' }, 'Too late');
    const path = await linkFor('ana@example.com', 'Too late');
    clock.advance(TTL_SECS + 1);
    const page = await app.anon.get(path).set('accept', BROWSER).expect(410);
    expect(page.text).toContain('This link has expired');
    await app.anon.post(path).type('form').set('accept', BROWSER).send('').expect(410);
    expect(await incident(id)).toMatchObject({ state: 'Detected', acknowledged_at: null });
  });

  it('refuses forged tokens (a flipped bit, another key, garbage, far too long) and changes nothing', async () => {
    const id = await raise({ team: 'pay' }, 'Forgery attempt');
    const path = await linkFor('ana@example.com', 'Forgery attempt');
    const token = path.slice('/v1/ack/'.length);
    const [version, body, signature] = token.split('.');
    // One bit of the signature flipped (the first character: its top bits change).
    const flipped = `${version}.${body}.${signature[0] === 'A' ? 'Q' : 'A'}${signature.slice(1)}`;
    // The claims changed (Lead instead of Ana), the signature kept.
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown[];
    claims[2] = ids.lead;
    const altered = `${version}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    // Signed properly, with a key this service does not have.
    const otherKey = signLink('a-different-key-of-enough-length-0123456789', {
      action: 'ack',
      incident_id: id,
      user_id: ids.ana,
      via: 'email',
      expires: Math.floor(clock.now().getTime() / 1000) + 600,
    });
    for (const forged of [flipped, altered, otherKey]) {
      expect((await app.anon.get(`/v1/ack/${forged}`).set('accept', BROWSER).expect(404)).text).toContain('This link is not valid');
      expect((await app.anon.post(`/v1/ack/${forged}`).set('accept', 'application/json').expect(401)).body.error).toMatchObject({
        code: 'UNAUTHENTICATED',
        message: 'This link is not valid',
        details: { reason: 'forged' },
      });
    }
    await app.anon.post('/v1/ack/l1.abc.def').type('form').send('').expect(404);
    await app.anon.post(`/v1/ack/${'A'.repeat(600)}`).expect(404);
    expect(await incident(id)).toMatchObject({ state: 'Detected', acknowledged_at: null });
    // The genuine link was not used up by any of that.
    expect((await app.anon.post(path).set('accept', 'application/json').expect(200)).body).toMatchObject({ incident_id: id, applied: true });
  });

  it('refuses a deactivated user’s link and changes nothing', async () => {
    const id = await raise({ team: 'cy' }, 'Cy has left');
    const path = await linkFor('cy@example.com', 'Cy has left');
    await app.http.post(`/v1/users/${ids.cy}/deactivate`).expect(200);
    expect((await app.anon.get(path).set('accept', BROWSER).expect(403)).text).toContain('deactivated');
    await app.anon.post(path).type('form').set('accept', BROWSER).send('').expect(403);
    expect(await incident(id)).toMatchObject({ state: 'Detected', acknowledged_at: null });
  });
});
