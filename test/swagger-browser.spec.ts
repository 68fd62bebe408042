// puppeteer-core 24, the last major that supports Node 20 (25 needs 22.12), ships CommonJS too.
import puppeteer from 'puppeteer-core';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Browser } from 'puppeteer-core';
import { generate } from 'selfsigned';
import { chromiumLaunchOptions } from '../scripts/chromium';
import { createApp } from '../src/app';
import { TestStore } from './support/harness';

// Browsers treat loopback addresses as secure contexts and exempt them from some rules
// (upgrade-insecure-requests, the secure-context-only headers). The page is opened under a plain
// host name that the browser maps to the loopback address, as a deployment would be reached.
const HOST_NAME = 'incident-manager.test';

/** What the checks use of the page's global object (the project's TypeScript has no DOM types). */
interface PageGlobal {
  cspViolations: string[];
  isSecureContext: boolean;
  document: { addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void };
}

/**
 * Swagger UI in a real browser, under the service's security headers: helmet's
 * Content-Security-Policy (and the rest) must not keep it from rendering, nor from calling the API.
 */
describe('Swagger UI in headless Chromium', () => {
  jest.setTimeout(180_000);
  let store: TestStore;
  let dir: string;
  let cert: { certPath: string; keyPath: string; spki: string };
  let browser: Browser;

  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'llm-im-chromium-'));
    const pems = await generate([{ name: 'commonName', value: HOST_NAME }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: HOST_NAME }] },
      ],
    });
    cert = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem'), spki: '' };
    writeFileSync(cert.certPath, pems.cert);
    writeFileSync(cert.keyPath, pems.private);
    // Chromium trusts exactly this key, so the TLS page is a proper secure context (not a
    // certificate error clicked through).
    const spki = createPublicKey(pems.cert).export({ type: 'spki', format: 'der' });
    cert.spki = createHash('sha256').update(spki).digest('base64');
    browser = await puppeteer.launch(
      chromiumLaunchOptions(join(dir, 'profile'), [`--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${cert.spki}`]),
    );
  });

  afterAll(async () => {
    await browser?.close();
    await store?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['http', 'https'])('renders every operation and runs one over %s, with no CSP violation and no console error', async (scheme) => {
    const tls = scheme === 'https' ? { tls_cert_path: cert.certPath, tls_key_path: cert.keyPath } : {};
    const app: NestFastifyApplication = await createApp(store.config({ server: { host: '127.0.0.1', ...tls } }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const page = await browser.newPage();
    try {
      const { port } = app.getHttpServer().address() as { port: number };
      const problems: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error' || msg.type() === 'warn') problems.push(`console ${msg.type()}: ${msg.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
      page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
      page.on('response', (res) => {
        if (res.status() >= 400) problems.push(`answer ${res.status()}: ${res.url()}`);
      });
      await page.evaluateOnNewDocument(() => {
        const page = globalThis as unknown as PageGlobal;
        page.cspViolations = [];
        page.document.addEventListener('securitypolicyviolation', (e) => page.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
      });

      const main = await page.goto(`${scheme}://${HOST_NAME}:${port}/docs`, { waitUntil: 'networkidle0' });
      // The page is under the policy this test is about.
      expect(main?.headers()['content-security-policy']).toContain("script-src 'self'");
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobal).isSecureContext)).toBe(scheme === 'https');
      await page.waitForSelector('.opblock', { timeout: 60_000 });

      const openapi = (await page.evaluate(async () => (await fetch('/docs/openapi.json')).json())) as { paths: Record<string, object> };
      const operations = Object.values(openapi.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
      expect(operations).toBeGreaterThan(10);
      expect(await page.$$eval('.opblock', (blocks) => blocks.length)).toBe(operations);

      // "Try it out" on a public route: Swagger UI's own call to the API (connect-src).
      const live = await page.waitForSelector('.opblock-get:has(.opblock-summary-path[data-path="/health/live"])');
      await (await live!.waitForSelector('.opblock-summary'))!.click();
      await (await live!.waitForSelector('.try-out__btn'))!.click();
      await (await live!.waitForSelector('.execute'))!.click();
      const status = await live!.waitForSelector('.live-responses-table tr.response .response-col_status', { timeout: 30_000 });
      expect(await status!.evaluate((el) => el.textContent?.trim())).toMatch(/^200/);

      expect(await page.evaluate(() => (globalThis as unknown as PageGlobal).cspViolations)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
      await app.close();
    }
  });
});
