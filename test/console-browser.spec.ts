/// <reference lib="dom" />
// The web console in headless Chromium (Debian's package, driven by puppeteer-core): the flows
// an on-call engineer runs, at desktop and at phone width, against the real service and a real
// webhook target.
import puppeteer from 'puppeteer-core';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import request from 'supertest';
import { chromiumLaunchOptions } from '../scripts/chromium';
import { FakeTarget, WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { ADMIN_KEY, alert, RunningApp, startApp, TestStore, waitUntil } from './support/harness';

// Screenshots go to a scratch folder; CONSOLE_SCREENSHOTS=docs/images writes the ones the README and docs/console.md show.
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS ? resolve(process.env.CONSOLE_SCREENSHOTS) : undefined;

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 900, isMobile: false, hasTouch: false },
  { name: 'phone', width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
] as const;

/** The button with exactly this text, once it is on the page. */
async function button(page: Page, text: string, timeout = 10_000) {
  const handle = await page.waitForSelector(`xpath///button[normalize-space()=${JSON.stringify(text)}]`, { visible: true, timeout });
  return handle!;
}

async function textOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => (el as unknown as { innerText: string }).innerText);
}

/** Waits until the selector's text contains `text`; a failure says what the page showed instead. */
async function waitForText(page: Page, selector: string, text: string, timeout = 10_000): Promise<void> {
  try {
    await page.waitForFunction(
      (sel: string, wanted: string) => Array.from(document.querySelectorAll(sel)).some((el) => (el as HTMLElement).innerText.includes(wanted)),
      { timeout },
      selector,
      text,
    );
  } catch (err) {
    const shown = await page.$$eval(selector, (els) => els.map((el) => (el as HTMLElement).innerText)).catch(() => []);
    const errors = await page.$$eval('.error', (els) => els.map((el) => (el as HTMLElement).innerText)).catch(() => []);
    throw new Error(
      `${selector} never showed ${JSON.stringify(text)}: it showed ${JSON.stringify(shown)}; errors on the page: ${JSON.stringify(errors)} (${String(err)})`,
    );
  }
}

/** axe-core, evaluated into the page through DevTools (the console's CSP forbids injected scripts). */
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical findings on the page as it is now (WCAG 2.x A and AA rules). */
async function accessibilityProblems(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    type Violation = { id: string; impact: string | null; nodes: { target: string[] }[] };
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id} (${v.impact}): ${v.nodes
            .map((n) => n.target.join(' '))
            .slice(0, 3)
            .join('; ')}`,
      );
  });
}

/** Text that the page would show with too little contrast for WCAG AA (4.5:1, 3:1 for large text). */
function lowContrast(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgb = (s: string) => (s.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]: number[]) => {
      const c = [r, g, b].map((v) => {
        const x = v / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const bg = rgb(getComputedStyle(e).backgroundColor);
        if (bg.length === 3 || (bg.length === 4 && bg[3] > 0.9)) return bg.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const bad: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement!;
      if (!node.textContent?.trim() || el.closest('[hidden]') || el.getClientRects().length === 0) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || (el as HTMLButtonElement).disabled) continue;
      const fg = rgb(style.color).slice(0, 3);
      const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${node.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)} (${style.color})`);
    }
    return bad;
  });
}

describe('web console in headless Chromium', () => {
  jest.setTimeout(180_000);
  let store: TestStore;
  let running: RunningApp;
  let sink: FakeTarget;
  let browser: Browser;
  let base: string;
  let dir: string;
  let readerKey: string;

  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    sink = await webhookSink();
    running = await startApp(store, {
      overrides: {
        // One webhook, no retries (pages included: no retry horizon): a target that fails once
        // leaves a failed delivery to re-drive.
        notifications: { webhook_enabled: true, default_webhook_url: `${sink.url}/hook`, max_retries: 0, retry_backoff_secs: 0, page_retry_horizon: '0' },
        outbound: { allow_cidrs: ['127.0.0.1/32'] },
      },
      env: { ...WEBHOOK_SIGNING_ENV },
    });
    base = `http://127.0.0.1:${(running.app.getHttpServer().address() as AddressInfo).port}`;
    readerKey = (
      await running.http
        .post('/v1/api-keys')
        .send({ name: 'viewer', scopes: ['incidents:read'] })
        .expect(201)
    ).body.key;
    dir = mkdtempSync(join(tmpdir(), 'llm-im-console-'));
    browser = await puppeteer.launch(chromiumLaunchOptions(join(dir, 'profile')));
  });

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await sink?.close();
    await store?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(context: BrowserContext, viewport: (typeof VIEWPORTS)[number]): Promise<{ page: Page; errors: string[]; streamEncodings: string[] }> {
    const page = await context.newPage();
    await page.setViewport(viewport);
    const errors: string[] = [];
    // How the live stream came: the browser asks for gzip, and reads the shared pieces as they come.
    const streamEncodings: string[] = [];
    page.on('response', (res) => {
      if (new URL(res.url()).pathname === '/v1/incidents/events') streamEncodings.push(res.headers()['content-encoding'] ?? 'identity');
    });
    page.on('pageerror', (err) => errors.push(String(err)));
    // A Content-Security-Policy violation is an error too, even one the browser only reports.
    await page.exposeFunction('reportViolation', (text: string) => errors.push(`CSP: ${text}`));
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { reportViolation(text: string): void }).reportViolation(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    page.on('console', (msg) => {
      // A refused request (the forged write, a probe after sign-out) is logged by Chromium itself.
      if (msg.type() === 'error' && !msg.text().includes('Failed to load resource')) errors.push(msg.text());
    });
    return { page, errors, streamEncodings };
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#api_key', { visible: true });
    await page.type('#api_key', key);
    await page.keyboard.press('Enter');
    await page.waitForSelector('h1 ::-p-text(Incidents)', { visible: true });
    await waitForText(page, '.live', 'Live');
  }

  /** What the page's scripts can read: storage and the script-visible cookies. */
  function readable(page: Page): Promise<string> {
    return page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    const path = join(SCREENSHOTS ?? dir, `${name}.png`);
    mkdirSync(SCREENSHOTS ?? dir, { recursive: true });
    await page.screenshot({ path, fullPage: true });
    expect(statSync(path).size).toBeGreaterThan(5_000);
  }

  /** Every page, at each width: no serious or critical axe-core finding, and its screenshot. */
  async function checkPage(page: Page, name: string, viewport: (typeof VIEWPORTS)[number]): Promise<void> {
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, `console-${name}-${viewport.name}`);
  }

  async function noHorizontalScroll(page: Page, width: number): Promise<void> {
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
  }

  describe.each(VIEWPORTS)('at $name width ($width px)', (viewport) => {
    let context: BrowserContext;
    beforeEach(async () => {
      context = await browser.createBrowserContext();
    });
    afterEach(async () => {
      await context.close();
    });

    it('runs an incident from first alert to close, re-drives a failed delivery, silences from the incident, and signs out', async () => {
      const { page, errors, streamEncodings } = await openPage(context, viewport);
      const team = `console-${viewport.name}`;
      await signIn(page, ADMIN_KEY);

      // The key went to the server once; the page keeps only an HttpOnly cookie it cannot read.
      const cookies = await context.cookies();
      const session = cookies.find((c) => c.name === 'lim_session')!;
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false });
      expect(session.expires).toBeGreaterThan(Date.now() / 1000 + 60);
      expect(await readable(page)).not.toContain(ADMIN_KEY.slice(-20));
      expect(await readable(page)).not.toContain('lim_session');

      // A new alert appears in the open list without a reload (the page marks its own document).
      await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'no reload'));
      sink.script.push({ status: 500, body: 'target down' });
      const title = `Checkout latency (${viewport.name})`;
      const posted = Date.now();
      const id = (
        await running.http
          .post('/v1/alerts')
          .send(alert({ title, severity: 'P1', labels: { team, env: 'prod' } }))
          .expect(200)
      ).body.incident_id;
      await waitForText(page, '.incidents', title, 5_000);
      const appearedMs = Date.now() - posted;
      expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('no reload');
      expect(streamEncodings.length).toBeGreaterThan(0);
      expect(new Set(streamEncodings)).toEqual(new Set(['gzip']));
      expect(await textOf(page, `li[data-id="${id}"]`)).toContain('P1 high');
      expect(await lowContrast(page)).toEqual([]);
      // The check itself sees grey on white (2.3:1).
      await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<p id="probe" style="color:#aaa;background:#fff">faint</p>'));
      expect(await lowContrast(page)).toEqual(['faint: 2.32 (rgb(170, 170, 170))']);
      await page.evaluate(() => document.getElementById('probe')!.remove());
      await noHorizontalScroll(page, viewport.width);
      await checkPage(page, 'incidents', viewport);
      process.stdout.write(`console (${viewport.name}): the new incident appeared in the list ${appearedMs} ms after the alert was posted\n`);

      // The incident page: every field, the failed first delivery, re-driven.
      await page.click(`li[data-id="${id}"] a`);
      await page.waitForSelector('h1 ::-p-text(Checkout latency)', { visible: true });
      await waitForText(page, '.labels', `team=${team}`);
      await waitForText(page, 'table.deliveries', 'failed');
      expect(await textOf(page, 'table.deliveries')).toContain('500');
      await (await button(page, 'Re-drive')).click();
      await page.waitForSelector('table.deliveries tr[data-status="sent"]', { timeout: 15_000 });
      expect(await page.$('table.deliveries tr[data-status="failed"]')).toBeNull();

      // Acknowledge, from the keyboard: Tab to the button, Enter.
      let focused = '';
      for (let i = 0; i < 60 && focused !== 'Acknowledge'; i++) {
        await page.keyboard.press('Tab');
        focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.innerText?.trim() ?? '');
      }
      expect(focused).toBe('Acknowledge');
      await page.keyboard.press('Enter');
      // The console acts as the signed-in key (the header names it).
      const keyName = await textOf(page, '.who span');
      await waitForText(page, '.meta', `Acknowledged by ${keyName}`);
      await waitForText(page, '.meta .state', 'Triaged');
      // An illegal move is never offered: from Triaged there is no way back to Detected, nor to Closed.
      expect(await page.$('xpath///button[normalize-space()="Acknowledge"]')).toBeNull();
      expect(await page.$('xpath///button[normalize-space()="Move to Triaged"]')).toBeNull();
      expect(await page.$('form[aria-label="Close"]')).toBeNull();

      await page.type('form[aria-label="Add a note"] textarea', 'Rolled back the 14:02 deploy');
      await (await button(page, 'Add note')).click();
      await waitForText(page, '.notes', 'Rolled back the 14:02 deploy');

      // An error from the API is shown in words: notes too long for the resolve form.
      await page.select('form[aria-label="Resolve"] select[name="method"]', 'Manual');
      await page.$eval('form[aria-label="Resolve"] textarea[name="notes"]', (el) => (el.value = 'x'.repeat(20_001)));
      await (await button(page, 'Resolve')).click();
      await waitForText(page, '.error', 'notes');
      await page.$eval('form[aria-label="Resolve"] textarea[name="notes"]', (el) => (el.value = ''));
      await page.type('form[aria-label="Resolve"] textarea[name="notes"]', 'Latency back to normal after the rollback');
      await page.type('form[aria-label="Resolve"] input[name="root_cause"]', 'connection pool too small');
      await (await button(page, 'Resolve')).click();
      await waitForText(page, '.meta .state', 'Resolved');
      await waitForText(page, '.fields', 'root cause: connection pool too small');

      await page.type('form[aria-label="Close"] input[name="note"]', 'postmortem filed');
      await (await button(page, 'Close incident')).click();
      await waitForText(page, '.meta .state', 'Closed');
      expect(await page.$('form[aria-label="Resolve"]')).toBeNull();
      expect(await page.$('xpath///button[starts-with(normalize-space(), "Move to")]')).toBeNull();

      // The timeline and the delivery log show each step.
      const timeline = await textOf(page, '.timeline');
      for (const step of ['created', 'acknowledged', 'note_added', 'resolved', 'state_changed']) expect(timeline).toContain(step);
      await page.waitForFunction(() => document.querySelectorAll('table.deliveries tr[data-status="sent"]').length >= 4, { timeout: 15_000 });
      const log = await textOf(page, 'table.deliveries');
      for (const event of ['incident.detected', 'incident.triaged', 'incident.resolved', 'incident.closed']) expect(log).toContain(event);
      expect(await lowContrast(page)).toEqual([]);
      await noHorizontalScroll(page, viewport.width);
      await checkPage(page, 'incident', viewport);

      // A silence from the incident's labels, previewed, then a new matching alert is suppressed.
      await (await button(page, 'Silence…')).click();
      await page.waitForFunction(
        (t: string) => document.querySelector<HTMLTextAreaElement>('textarea[name="matchers"]')?.value.includes(`team="${t}"`),
        {},
        team,
      );
      await (await button(page, 'Preview matches')).click();
      await waitForText(page, '.preview', 'It would match 0 open incidents');
      await (await button(page, 'Create silence')).click();
      await waitForText(page, '.ok', 'Silence created until');
      await waitForText(page, '.silences', `team="${team}"`);
      await checkPage(page, 'silences', viewport);
      const silenced = (
        await running.http
          .post('/v1/alerts')
          .send(alert({ title: `Checkout errors (${viewport.name})`, labels: { team, env: 'prod' } }))
          .expect(200)
      ).body.incident_id;
      await page.goto(`${base}/incidents/${silenced}`, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('table.deliveries tr[data-status="suppressed"]', { timeout: 15_000 });
      await waitForText(page, 'section[aria-labelledby="routing-h"]', 'Silenced by');
      // Said at the top, not only in the routing section.
      await waitForText(page, '.nobody', 'Nobody is notified: a silence');

      // Expire it early from the silences page.
      await page.click('nav a[href="/silences"]');
      await waitForText(page, '.silences', `team="${team}"`);
      await (await button(page, 'Expire now')).click();
      await page.waitForFunction((t: string) => !document.querySelector('.silences')?.textContent?.includes(t), {}, team);
      await (await button(page, 'Expired')).click();
      await waitForText(page, '.silences', `team="${team}"`);

      // Signing out ends the session on the server: the old cookie opens nothing.
      const cookie = `lim_session=${session.value}`;
      await (await button(page, 'Sign out')).click();
      await page.waitForSelector('#api_key', { visible: true });
      await waitForText(page, '.notice', 'Signed out.');
      expect(await page.evaluate(() => fetch('/v1/incidents').then((r) => r.status))).toBe(401);
      await request(base).get('/v1/incidents').set('cookie', cookie).expect(401);
      expect(await readable(page)).not.toContain(ADMIN_KEY.slice(-20));
      expect(errors).toEqual([]);
    });

    it('shows the channels and the dead letters, re-drives one, sends a test, and manages API keys', async () => {
      const { page, errors } = await openPage(context, viewport);
      page.on('dialog', (dialog) => void dialog.accept());
      sink.script.push({ status: 500, body: 'target down' });
      const id = (
        await running.http
          .post('/v1/alerts')
          .send(alert({ title: `Dead letter (${viewport.name})` }))
          .expect(200)
      ).body.incident_id;
      for (let i = 0; i < 100; i++) {
        const log = (await running.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
        if (log.some((d: any) => d.status === 'failed')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await signIn(page, ADMIN_KEY);
      await page.click('nav a[href="/notifications"]');
      await waitForText(page, 'section[aria-labelledby="channels-h"]', 'webhook');
      await waitForText(page, '.dead', `HTTP 500`);
      await checkPage(page, 'notifications', viewport);
      await (await button(page, 'Re-drive')).click();
      await page.waitForFunction(() => !document.querySelector('.dead'), { timeout: 10_000 });
      for (let i = 0; i < 100; i++) {
        const log = (await running.http.get(`/v1/incidents/${id}/notifications`).expect(200)).body;
        if (log.every((d: any) => d.status === 'sent')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const received = sink.received.length;
      await (await page.waitForSelector('xpath///tr[td[1][normalize-space()="webhook"]]//button[normalize-space()="Send test"]'))!.click();
      await waitForText(page, '#test-webhook', 'delivered');
      expect(sink.received.length).toBe(received + 1);

      // A key: the secret shown once with a copy button, listed without it, revoked. It belongs to a person.
      const owner = await request(base)
        .post('/v1/users')
        .set('authorization', `Bearer ${ADMIN_KEY}`)
        .send({ name: `Pat ${viewport.name}`, email: `pat-${viewport.name}@example.com`, time_zone: 'UTC' })
        .expect(201);
      await page.click('nav a[href="/keys"]');
      await page.waitForSelector('input[name="name"]', { visible: true });
      await page.waitForSelector(`select[name="user"] option[value="${owner.body.id}"]`);
      await checkPage(page, 'keys', viewport);
      await page.type('input[name="name"]', `pager-${viewport.name}`);
      await page.click('input[name="scope-incidents:read"]');
      await page.select('select[name="user"]', owner.body.id);
      await (await button(page, 'Create key')).click();
      const secret = await page.waitForSelector('input[aria-label="The new key"]');
      const key = await secret!.evaluate((el) => el.value);
      expect(key).toMatch(/^lim_[0-9a-f]{16}_[0-9a-f]{64}$/);
      await button(page, 'Copy');
      await request(base).get('/v1/incidents').set('authorization', `Bearer ${key}`).expect(200);
      await (await button(page, 'Done')).click();
      expect(await page.$('input[aria-label="The new key"]')).toBeNull();
      expect(await textOf(page, '.keys')).not.toContain(key.slice(-64));
      const row = await page.waitForSelector(`xpath///ul[@class="keys"]/li[strong[normalize-space()="pager-${viewport.name}"]]`);
      expect(await row!.evaluate((li) => li.textContent)).toContain(`Pat ${viewport.name}'s`);
      const listed = await request(base).get('/v1/api-keys').set('authorization', `Bearer ${ADMIN_KEY}`).expect(200);
      expect(listed.body.find((k: { name: string }) => k.name === `pager-${viewport.name}`).user_id).toBe(owner.body.id);
      await (await row!.waitForSelector('button ::-p-text(Revoke)'))!.click();
      await page.waitForFunction(
        (name: string) => Array.from(document.querySelectorAll('.keys li')).some((li) => li.textContent!.includes(name) && li.textContent!.includes('revoked')),
        {},
        `pager-${viewport.name}`,
      );
      await request(base).get('/v1/incidents').set('authorization', `Bearer ${key}`).expect(401);
      expect(await readable(page)).not.toContain(key.slice(-20));
      expect(errors).toEqual([]);
    });

    it('saves the severity form unchanged without changing anything, keeps the severity when an assignee is added, and asks before a raise that pages', async () => {
      const { page, errors } = await openPage(context, viewport);
      const id = (
        await running.http
          .post('/v1/alerts')
          .send(alert({ title: `Staging disk (${viewport.name})`, severity: 'P3', labels: { env: 'staging', form: viewport.name } }))
          .expect(200)
      ).body.incident_id;
      const incident = async () => (await running.http.get(`/v1/incidents/${id}`).expect(200)).body;
      const severityChanges = async () => (await incident()).timeline.filter((e: { event_type: string }) => e.event_type === 'severity_changed');
      await signIn(page, ADMIN_KEY);
      await page.goto(`${base}/incidents/${id}`, { waitUntil: 'domcontentloaded' });
      const form = 'form[aria-label="Severity and assignees"]';
      await page.waitForSelector(`${form} select[name="severity"]`, { visible: true });
      // The select shows the incident's own severity (it showed P0, the first option).
      expect(await page.$eval(`${form} select[name="severity"]`, (el) => el.value)).toBe('P3');

      // Saved unchanged: nothing is sent, nothing changes.
      await page.click(`${form} button[type="submit"]`);
      await waitForText(page, `${form} .hint`, 'Nothing changed.');
      expect((await incident()).severity).toBe('P3');
      expect(await severityChanges()).toEqual([]);

      // An assignee added: the severity stays.
      await page.type(`${form} input[name="assignees"]`, 'alice');
      await page.click(`${form} button[type="submit"]`);
      await waitUntil(async () => (await incident()).assignees.includes('alice'), 'the assignee to be saved');
      expect((await incident()).severity).toBe('P3');
      expect(await severityChanges()).toEqual([]);
      await page.waitForFunction((sel: string) => document.querySelector<HTMLSelectElement>(sel)?.value === 'P3', {}, `${form} select[name="severity"]`);

      // A raise into P1 pages: the console asks first; declined, nothing changes.
      const dialogs: string[] = [];
      page.once('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      await page.select(`${form} select[name="severity"]`, 'P1');
      await page.click(`${form} button[type="submit"]`);
      await waitUntil(() => dialogs.length === 1, 'the confirmation');
      expect(dialogs[0]).toContain('Raise P3 to P1?');
      expect((await incident()).severity).toBe('P3');
      // Accepted, it is raised.
      page.once('dialog', (dialog) => void dialog.accept());
      await page.click(`${form} button[type="submit"]`);
      await waitUntil(async () => (await incident()).severity === 'P1', 'the raise to P1');
      await waitForText(page, '.meta', 'P1');
      // A lowering pages nobody: no question asked.
      page.once('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      await page.waitForFunction((sel: string) => document.querySelector<HTMLSelectElement>(sel)?.value === 'P1', {}, `${form} select[name="severity"]`);
      await page.select(`${form} select[name="severity"]`, 'P2');
      await page.click(`${form} button[type="submit"]`);
      await waitUntil(async () => (await incident()).severity === 'P2', 'the lowering to P2');
      expect(dialogs).toHaveLength(1);
      expect(errors).toEqual([]);
    });

    it('silences an Alertmanager incident with matchers that match it as stored, says so when they would not, and the next alert of the kind is suppressed', async () => {
      const { page, errors } = await openPage(context, viewport);
      const alertname = `DiskFull${viewport.name}`;
      const notify = (group: string, instance: string) =>
        running.http
          .post('/v1/integrations/alertmanager')
          .send({
            version: '4',
            groupKey: `{}:{alertname="${alertname}",group="${group}"}`,
            status: 'firing',
            receiver: 'im',
            groupLabels: { alertname },
            commonLabels: { alertname, severity: 'critical' },
            commonAnnotations: {},
            externalURL: 'http://alertmanager.example:9093',
            alerts: [
              {
                status: 'firing',
                labels: { alertname, severity: 'critical', team: 'storage' },
                annotations: { summary: `Disk full on ${instance}` },
                startsAt: new Date().toISOString(),
                endsAt: '0001-01-01T00:00:00Z',
                generatorURL: 'http://prometheus.example:9090/graph',
                fingerprint: `fp-${group}-${instance}`,
              },
            ],
          })
          .expect(200);
      const id = (await notify('first', 'node-a')).body.alerts[0].incident_ids[0];
      await signIn(page, ADMIN_KEY);
      await page.goto(`${base}/incidents/${id}`, { waitUntil: 'domcontentloaded' });
      // Each upstream alert with its state there and its own labels.
      await waitForText(page, 'ul.upstream li[data-status="firing"]', alertname);
      await waitForText(page, 'ul.upstream li[data-status="firing"] .labels', 'team=storage');
      await (await button(page, 'Silence…')).click();
      await page.waitForFunction(
        (name: string) => document.querySelector<HTMLTextAreaElement>('textarea[name="matchers"]')?.value.includes(`alertname="${name}"`),
        {},
        alertname,
      );
      // The upstream severity label is left out, and why is said: `severity` compares the P-level.
      const prefilled = await page.$eval('textarea[name="matchers"]', (el) => el.value);
      expect(prefilled).not.toContain('severity=');
      await waitForText(page, 'form[aria-label="New silence"] .hint', 'Left out: the label severity');
      await (await button(page, 'Preview matches')).click();
      await waitForText(page, '.preview', 'It would match 1 open incident');

      // Matchers that would not silence the incident: said plainly, and nothing created if declined.
      const dialogs: string[] = [];
      page.once('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      await page.$eval('textarea[name="matchers"]', (el) => (el.value = ''));
      await page.type('textarea[name="matchers"]', 'severity="critical"');
      await (await button(page, 'Create silence')).click();
      await waitForText(page, 'form[aria-label="New silence"] .error', 'Not created');
      expect(dialogs[0]).toContain('do not match the incident you started from');
      expect((await running.http.get('/v1/silences?state=active').expect(200)).body.filter((x: { comment: string }) => x.comment.includes(id))).toEqual([]);

      // The prefilled matchers: created without a question, and they silence the next alert of the kind.
      await page.$eval('textarea[name="matchers"]', (el) => (el.value = ''));
      await page.type('textarea[name="matchers"]', prefilled);
      await (await button(page, 'Create silence')).click();
      await waitForText(page, '.ok', 'Silence created until');
      expect(dialogs).toHaveLength(1);
      const next = (await notify('second', 'node-b')).body.alerts[0].incident_ids[0];
      expect(next).not.toBe(id);
      await waitUntil(
        async () => (await running.http.get(`/v1/incidents/${next}/notifications`).expect(200)).body.some((d: { status: string }) => d.status === 'suppressed'),
        'the next alert’s notification to be suppressed',
      );
      expect(errors).toEqual([]);
    });

    it('lists the most urgent first, shows incidents before filters on a phone, counts the urgent ones in the tab title, and acknowledges from the list', async () => {
      const { page, errors } = await openPage(context, viewport);
      await running.http
        .post('/v1/alerts')
        .send(alert({ title: `Calm (${viewport.name})`, severity: 'P3', labels: { list: viewport.name } }))
        .expect(200);
      const fire = (
        await running.http
          .post('/v1/alerts')
          .send(alert({ title: `Fire (${viewport.name})`, severity: 'P0', labels: { list: viewport.name } }))
          .expect(200)
      ).body.incident_id;
      await signIn(page, ADMIN_KEY);
      await page.waitForSelector(`li[data-id="${fire}"]`, { visible: true });
      // The newest P0 heads the list, above every P1 to P4, whatever their age.
      expect(await page.$eval('ul.incidents li.incident-row', (el) => el.getAttribute('data-id'))).toBe(fire);
      const top = await page.$eval(`li[data-id="${fire}"]`, (el) => el.getBoundingClientRect().top);
      expect(top).toBeLessThan(viewport.height);
      // The filters: behind one tap on a phone, open on a desktop.
      const filtersOpen = await page.$eval('details.filter-toggle', (el) => el.open);
      expect(filtersOpen).toBe(viewport.name === 'desktop');
      if (viewport.name === 'phone') {
        await page.click('details.filter-toggle > summary');
        await page.waitForSelector('form[aria-label="Filter incidents"] input[name="q"]', { visible: true });
      }
      // The tab says how many open P0/P1 there are, from the API's own count.
      const urgent = (
        await running.http
          .get('/v1/incidents?state=Detected&state=Triaged&state=Investigating&state=Remediating&severity=P0&severity=P1&page_size=1')
          .expect(200)
      ).body.total;
      await page.waitForFunction((n: number) => document.title.startsWith(`(${n}) urgent`), {}, urgent);
      // One alert, in the singular; an age, with the absolute time and zone on hover.
      expect(await textOf(page, `li[data-id="${fire}"] .alerts`)).toBe('1 alert');
      expect(await textOf(page, `li[data-id="${fire}"] time`)).toMatch(/just now|min ago/);
      expect(await page.$eval(`li[data-id="${fire}"] time`, (el) => el.getAttribute('title'))).toMatch(/\d{2}:\d{2}:\d{2}.*(UTC|GMT|[A-Z]{2,5})/);

      // Acknowledged from the list: the row moves to Triaged and its button goes.
      await page.click(`li[data-id="${fire}"] button.ack`);
      await waitForText(page, `li[data-id="${fire}"] .meta`, 'Triaged');
      expect(await page.$(`li[data-id="${fire}"] button.ack`)).toBeNull();
      expect((await running.http.get(`/v1/incidents/${fire}`).expect(200)).body.acknowledged_by).toBeTruthy();
      expect(errors).toEqual([]);
    });

    it('shows who is on call for every schedule and a gap where nobody is, the people and teams, a schedule’s shifts and gaps by week and month, and an override made and deleted from the page', async () => {
      const { page, errors } = await openPage(context, viewport);
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.accept();
      });
      const v = viewport.name;
      // Kolkata is UTC+5:30 all year (no daylight saving), so its clocks are worked out by hand here.
      const HOUR = 3_600_000;
      const pad = (n: number) => String(n).padStart(2, '0');
      const kolkata = (ms: number) => new Date(ms + 5.5 * HOUR);
      const dateIn = (ms: number) => `${kolkata(ms).getUTCFullYear()}-${pad(kolkata(ms).getUTCMonth() + 1)}-${pad(kolkata(ms).getUTCDate())}`;
      const now = Date.now();
      const hour = kolkata(now).getUTCHours();
      const user = async (name: string, extra: Record<string, unknown> = {}) =>
        (
          await running.http
            .post('/v1/users')
            .send({ name, email: `${name.toLowerCase().replace(/\s+/g, '.')}@example.com`, time_zone: 'Asia/Kolkata', ...extra })
            .expect(201)
        ).body as { id: string; name: string };
      const ana = await user(`Ana ${v}`, {
        slack_user_id: 'U024BE7LH',
        notification_rules: [
          { after: '0s', methods: ['slack'] },
          { after: '5m', methods: ['email'] },
        ],
      });
      const ben = await user(`Ben ${v}`);
      const cy = await user(`Cy ${v}`);
      const dee = await user(`Dee ${v}`);
      const team = (
        await running.http
          .post('/v1/teams')
          .send({ name: `oncall-team-${v}`, member_ids: [ben.id, ana.id], notify: 'members' })
          .expect(201)
      ).body;
      // Ana is on call every day from an hour ago to three hours from now (the hand-off at the
      // window's start); the other 20 hours of each day are a gap.
      const windowStart = `${pad((hour + 23) % 24)}:00`;
      const windowEnd = `${pad((hour + 3) % 24)}:00`;
      const everyDay = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
      const startDate = dateIn(now - 14 * 24 * HOUR);
      const schedule = (
        await running.http
          .post('/v1/schedules')
          .send({
            name: `oncall-${v}`,
            time_zone: 'Asia/Kolkata',
            team_id: team.id,
            layers: [
              {
                name: 'primary',
                members: [ana.id],
                rotation: 'daily',
                handoff_time: windowStart,
                start_date: startDate,
                restrictions: [{ days: everyDay, start: windowStart, end: windowEnd }],
              },
            ],
          })
          .expect(201)
      ).body;
      // A schedule whose only person is deactivated: nobody is on call, and the reason says who.
      const nobody = (
        await running.http
          .post('/v1/schedules')
          .send({
            name: `nobody-${v}`,
            time_zone: 'Asia/Kolkata',
            layers: [{ name: 'only', members: [dee.id], rotation: 'daily', handoff_time: '00:00', start_date: startDate }],
          })
          .expect(201)
      ).body;
      await running.http.post(`/v1/users/${dee.id}/deactivate`).expect(200);
      // Ben covers two hours tomorrow.
      await running.http
        .post(`/v1/schedules/${schedule.id}/overrides`)
        .send({ user_id: ben.id, starts_at: new Date(now + 26 * HOUR).toISOString(), ends_at: new Date(now + 28 * HOUR).toISOString() })
        .expect(201);
      // Ana signs in with her own key: the header names her, and what she does is recorded as her.
      const key = (
        await running.http
          .post('/v1/api-keys')
          .send({ name: `ana-key-${v}`, scopes: ['incidents:read', 'people:write'], user_id: ana.id })
          .expect(201)
      ).body.key;
      await signIn(page, key);
      expect(await textOf(page, '.who span')).toBe(`Ana ${v}`);

      // The on-call page: second in the navigation, nobody on call first and marked as a gap with its reason.
      expect(await page.$$eval('nav[aria-label="Main"] a', (links) => links.map((a) => a.getAttribute('href')))).toEqual([
        '/',
        '/on-call',
        '/people',
        '/silences',
        '/notifications',
      ]);
      await page.click('nav a[href="/on-call"]');
      const row = `li[data-schedule="${schedule.id}"]`;
      await waitForText(page, row, `Ana ${v}`);
      const covered = await textOf(page, row);
      expect(covered).toContain(`ana.${v}@example.com`);
      expect(covered).toContain(`until`);
      expect(covered).toContain(`${windowEnd}`);
      expect(covered).toContain('layer primary');
      expect(covered).toContain(`oncall-team-${v} · Asia/Kolkata`);
      const gapRow = `li[data-schedule="${nobody.id}"]`;
      expect(await page.$eval(gapRow, (el) => el.className)).toBe('oncall-row oncall-gap');
      expect(await textOf(page, gapRow)).toContain('Nobody on call');
      expect(await textOf(page, gapRow)).toContain(`Dee ${v} is deactivated`);
      // Deactivated for good: the service looks 8 days ahead, and the page says the gap lasts at least that long.
      expect(await textOf(page, gapRow)).toContain('until at least');
      expect(await page.$eval('ul.oncall li', (el) => el.classList.contains('oncall-gap'))).toBe(true);
      expect(await lowContrast(page)).toEqual([]);
      await noHorizontalScroll(page, viewport.width);
      await checkPage(page, 'on-call', viewport);

      // People: how each is reached, their rules, who is deactivated; teams with members by name.
      await page.click('nav a[href="/people"]');
      await waitForText(page, `tr[data-user="${ana.id}"]`, `Ana ${v}`);
      const anaRow = await textOf(page, `tr[data-user="${ana.id}"]`);
      for (const shown of [`ana.${v}@example.com`, 'slack (U024BE7LH), email', 'at once: slack; after 5m: email', 'Asia/Kolkata', 'Active'])
        expect(anaRow).toContain(shown);
      expect(await textOf(page, `tr[data-user="${ben.id}"]`)).toContain('none set: every method at once');
      expect(await textOf(page, `tr[data-user="${dee.id}"]`)).toContain('Deactivated');
      const teamRow = await textOf(page, `tr[data-team="${team.id}"]`);
      expect(teamRow).toContain(`Ben ${v}, Ana ${v}`);
      expect(teamRow).toContain('members: every member at once');
      expect(await lowContrast(page)).toEqual([]);
      await noHorizontalScroll(page, viewport.width);
      await checkPage(page, 'people', viewport);

      // The schedule: who is on call now, this week's shifts and gaps on the timeline and as a list, the overrides.
      await page.click('nav a[href="/on-call"]');
      await (await page.waitForSelector(`${row} a[href="/schedules/${schedule.id}"]`, { visible: true }))!.click();
      await page.waitForSelector(`h1 ::-p-text(oncall-${v})`, { visible: true });
      const onCallNow = 'ul[aria-label="On call now"]';
      await waitForText(page, onCallNow, `Ana ${v}`);
      await waitForText(page, '.shift-list li.entry-shift', `Ana ${v}`);
      await waitForText(page, '.shift-list li.entry-gap', 'Nobody on call: no layer or override covers this time');
      expect(await textOf(page, '.shift-list li.entry-shift')).toContain('layer primary');
      const today = dateIn(Date.now());
      await page.waitForSelector(`.tl-week .tl-row.tl-today[data-date="${today}"] .tl-now`);
      expect(await page.$$eval('.tl-week .tl-row[data-date]', (rows) => rows.length)).toBe(7);
      expect(await textOf(page, `.tl-row[data-date="${today}"] .tl-track`)).toContain(`Ana ${v}`);
      expect(await page.$$eval('.tl-week .seg-gap', (gaps) => gaps.map((g) => (g as HTMLElement).innerText))).toContain('Gap');
      // Hatched as well as labelled: a gap is never told by its colour alone.
      expect(await page.$eval('.tl-week .seg-gap', (el) => getComputedStyle(el).backgroundImage)).toContain('repeating-linear-gradient');
      await waitForText(page, '.overrides', `Ben ${v}`);
      expect(await textOf(page, '.overrides')).toContain('by bootstrap');
      expect(await textOf(page, '.layers')).toContain(`primary: daily rotation, hand-off at ${windowStart}`);
      expect(await lowContrast(page)).toEqual([]);
      await noHorizontalScroll(page, viewport.width);
      // On a phone the timeline scrolls inside its own box, not the page.
      const box = await page.$eval('.tl-box', (el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      if (viewport.name === 'phone') expect(box.scroll).toBeGreaterThan(box.client);
      else expect(box.scroll).toBe(box.client);
      await checkPage(page, 'schedule', viewport);

      // A month, then the next and the one before; back to this week.
      const [year, month] = today.split('-').map(Number);
      const monthStart = (y: number, m: number) => `${m < 1 ? y - 1 : m > 12 ? y + 1 : y}-${pad(((m + 11) % 12) + 1)}-01`;
      const firstRow = () => page.$eval('.tl-row[data-date]', (el) => el.getAttribute('data-date'));
      await (await button(page, 'Month')).click();
      // The month's rows are drawn again once its shifts arrive: wait for the whole month, then look.
      // A month's shifts may take a while on a machine the other specs keep busy; if they never come,
      // the failure says what the section showed instead.
      const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
      await page
        .waitForFunction((n: number) => document.querySelectorAll('.tl-month .tl-row[data-date]').length === n, { timeout: 30_000 }, days)
        .catch(async () => {
          throw new Error(
            `the month's ${days} rows did not appear; the shifts section showed: ${await textOf(page, 'section[aria-labelledby="shifts-h"]').catch(() => '(nothing)')}`,
          );
        });
      expect(await firstRow()).toBe(monthStart(year, month));
      expect(await page.$$eval('.tl-month .tl-row[data-date]', (rows) => rows.length)).toBe(days);
      await noHorizontalScroll(page, viewport.width);
      await (await button(page, 'Next')).click();
      await page.waitForFunction(
        (want: string) => document.querySelector('.tl-row[data-date]')?.getAttribute('data-date') === want,
        {},
        monthStart(year, month + 1),
      );
      await (await button(page, 'Previous')).click();
      await (await button(page, 'Previous')).click();
      await page.waitForFunction(
        (want: string) => document.querySelector('.tl-row[data-date]')?.getAttribute('data-date') === want,
        {},
        monthStart(year, month - 1),
      );
      await (await button(page, 'Week')).click();
      await (await button(page, 'Today')).click();
      await page.waitForSelector(`.tl-week .tl-row.tl-today[data-date="${today}"]`);

      // An override from the page: Cy from this minute for eight hours, and Cy is on call now.
      const form = 'form[aria-label="New override"]';
      await page.select(`${form} select[name="user_id"]`, cy.id);
      await (await button(page, 'Create override')).click();
      await waitForText(page, `${form} .ok`, `Override created: Cy ${v}`);
      await waitForText(page, onCallNow, `Cy ${v}`);
      expect(await textOf(page, onCallNow)).toContain('override');
      await waitForText(page, '.shift-list li.entry-shift', `Cy ${v}`);
      await waitForText(page, '.overrides', `by Ana ${v}`);
      const made = (await running.http.get(`/v1/schedules/${schedule.id}/overrides`).expect(200)).body.find((o: { user_id: string }) => o.user_id === cy.id);
      expect(made.created_by).toBe(`Ana ${v}`);
      expect(Date.parse(made.ends_at) - Date.parse(made.starts_at)).toBe(8 * HOUR);
      expect(Math.abs(Date.parse(made.starts_at) - Date.now())).toBeLessThan(5 * 60_000);
      await page.click('nav a[href="/on-call"]');
      await waitForText(page, row, `Cy ${v}`);

      // Deleted from the page (after a question): the layer's Ana is on call again.
      await (await page.waitForSelector(`${row} a[href="/schedules/${schedule.id}"]`, { visible: true }))!.click();
      await (await page.waitForSelector(`button[aria-label^="Delete the override of Cy ${v}"]`, { visible: true }))!.click();
      await waitForText(page, onCallNow, `Ana ${v}`);
      await page.waitForFunction((name: string) => !document.querySelector('.overrides')?.textContent?.includes(name), {}, `Cy ${v}`);
      expect(dialogs).toEqual([expect.stringContaining(`Delete the override of Cy ${v}`)]);
      expect((await running.http.get(`/v1/schedules/${schedule.id}/overrides`).expect(200)).body.map((o: { user_id: string }) => o.user_id)).toEqual([ben.id]);
      await noHorizontalScroll(page, viewport.width);
      expect(errors).toEqual([]);
    });

    it('offers a read-only key no action, and the API refuses its forged write', async () => {
      const id = (
        await running.http
          .post('/v1/alerts')
          .send(alert({ title: `Queue backlog (${viewport.name})`, severity: 'P2' }))
          .expect(200)
      ).body.incident_id;
      const { page, errors } = await openPage(context, viewport);
      await signIn(page, readerKey);
      expect(await page.$('nav a[href="/keys"]')).toBeNull();
      await page.goto(`${base}/incidents/${id}`, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('h1 ::-p-text(Queue backlog)', { visible: true });
      await waitForText(page, '.hint', 'This key can read only');
      expect(await page.$$eval('main button', (buttons) => buttons.map((b) => b.textContent))).toEqual([]);
      expect(await page.$('main form')).toBeNull();
      await noHorizontalScroll(page, viewport.width);

      // A write forged from the page, with the session's real CSRF token, is still refused for its scope.
      const forged = await page.evaluate(async (incident: string) => {
        const { csrf_token } = (await (await fetch('/v1/session')).json()) as { csrf_token: string };
        const res = await fetch(`/v1/incidents/${incident}/acknowledge`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': csrf_token },
          body: JSON.stringify({ actor: 'mallory' }),
        });
        return { status: res.status, body: (await res.json()) as { error: { code: string } } };
      }, id);
      expect(forged).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
      expect((await running.http.get(`/v1/incidents/${id}`).expect(200)).body.state).toBe('Detected');

      // A schedule, read only: the shifts and overrides, but no way to make or delete an override.
      const member = (
        await running.http
          .post('/v1/users')
          .send({ name: `Reader ${viewport.name}`, email: `reader.${viewport.name}@example.com`, time_zone: 'UTC' })
          .expect(201)
      ).body;
      const readOnly = (
        await running.http
          .post('/v1/schedules')
          .send({
            name: `read-only-${viewport.name}`,
            time_zone: 'UTC',
            layers: [{ name: 'l', members: [member.id], rotation: 'weekly', handoff_time: '09:00', start_date: '2026-01-05' }],
          })
          .expect(201)
      ).body;
      await running.http
        .post(`/v1/schedules/${readOnly.id}/overrides`)
        .send({ user_id: member.id, starts_at: new Date(Date.now() + 3_600_000).toISOString(), ends_at: new Date(Date.now() + 7_200_000).toISOString() })
        .expect(201);
      await page.click('nav a[href="/on-call"]');
      await (await page.waitForSelector(`a[href="/schedules/${readOnly.id}"]`, { visible: true }))!.click();
      await waitForText(page, '.overrides', `Reader ${viewport.name}`);
      expect(await page.$('form[aria-label="New override"]')).toBeNull();
      expect(await page.$$eval('main button', (buttons) => buttons.map((b) => b.textContent))).toEqual(['Week', 'Month', 'Previous', 'Today', 'Next']);
      expect(await readable(page)).not.toContain(readerKey.slice(-20));
      expect(errors).toEqual([]);
    });
  });
});
