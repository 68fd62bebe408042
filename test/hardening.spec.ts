import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { makeCertificate } from './support/certificate';
import { createApp } from '../src/app';
import { ConfigError } from '../src/config/config.loader';
import { HEALTH_PROTO, PROTO_LOADER_OPTIONS, startGrpc } from '../src/grpc/grpc.server';
import { ADMIN_KEY, alert, freePort, TestStore } from './support/harness';

const ROOT = join(__dirname, '..');

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection, over http or https (trusting `ca`). */
function fetchRaw(url: string, init: { method?: string; headers?: Record<string, string>; ca?: string } = {}): Promise<Answer> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: init.method ?? 'GET', headers: init.headers, ca: init.ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Running {
  app: NestFastifyApplication;
  url: string;
  grpcAddress: string;
  connections(): Promise<number>;
  close(): Promise<void>;
}

/** The real application on a loopback port, with the given [server] settings (the harness's startApp speaks plain HTTP only). */
async function start(store: TestStore, server: Record<string, unknown> = {}, grpcToo = false): Promise<Running> {
  const grpcPort = grpcToo ? await freePort() : 0;
  const config = store.config({ server: { host: '127.0.0.1', grpc_port: grpcPort, ...server } });
  const app = await createApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  if (grpcToo) await startGrpc(app, config);
  const httpServer = app.getHttpServer();
  const { port } = httpServer.address() as { port: number };
  return {
    app,
    url: `${config.server.tls_cert_path ? 'https' : 'http'}://127.0.0.1:${port}`,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    connections: () => new Promise((resolve, reject) => httpServer.getConnections((err, n) => (err ? reject(err) : resolve(n)))),
    close: () => app.close(),
  };
}

interface CutOff {
  answer: string;
  elapsedMs: number;
}

/**
 * A slow client: writes `head`, then `drip` every 200 ms for as long as the connection lasts.
 * Resolves when the server has closed the connection. Plain-text connections keep their own
 * side open (allowHalfOpen), so the close is the server's doing, not the client's reaction to a
 * FIN; a silent client (no drip) starts writing once it has the FIN, to learn whether the server
 * has really let go (a reset) or only half-closed (the bytes are taken, nothing happens).
 */
function slowClient(open: () => Socket, head: string, drip: string, onAnswer?: (socket: Socket) => void): Promise<CutOff> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = open();
    let answer = '';
    let finned = false;
    socket.on('end', () => (finned = true));
    if (onAnswer) socket.once('data', () => onAnswer(socket));
    const timer = setInterval(() => {
      const bytes = drip || (finned ? '\r\n' : '');
      if (socket.writable && bytes) socket.write(bytes);
    }, 200);
    // A write after the server's close fails (EPIPE, ECONNRESET): that is the cut-off, too.
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, elapsedMs: Date.now() - started });
    });
    const safety = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error(`the server kept the slow connection open for 30 s; it answered: ${JSON.stringify(answer)}`));
    }, 30_000);
    socket.on('close', () => clearTimeout(safety));
    if (head) socket.write(head);
  });
}

function expectTimeoutAnswer(cut: CutOff): void {
  const [head, body] = cut.answer.split('\r\n\r\n');
  expect(head.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
  expect(JSON.parse(body)).toEqual({
    error: { code: 'REQUEST_TIMEOUT', message: 'the request was not received in time', status: 408, details: {}, request_id: expect.any(String) },
  });
}

const plain = (url: string) => () => {
  const { port } = new URL(url);
  return netConnect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
};

describe('HTTP hardening', () => {
  let store: TestStore;
  let dir: string;
  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'llm-im-hardening-'));
  });
  afterAll(async () => {
    await store.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('security headers', () => {
    let running: Running;
    beforeAll(async () => (running = await start(store)));
    afterAll(() => running.close());

    it.each([
      ['a public route', '/health/live'],
      ['an API route (answered or refused)', '/v1/incidents'],
      ['an unknown route', '/no/such/route'],
      ['the OpenAPI document', '/docs/openapi.json'],
      ['Swagger UI', '/docs'],
    ])('come with %s', async (_name, path) => {
      const res = await fetchRaw(`${running.url}${path}`);
      expect(res.headers['content-security-policy']).toBeDefined();
      const csp = Object.fromEntries(
        (res.headers['content-security-policy'] as string).split(';').map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name, values.join(' ')];
        }),
      );
      expect(csp['default-src']).toBe("'self'");
      expect(csp['script-src']).toBe("'self'");
      expect(csp['object-src']).toBe("'none'");
      expect(csp['frame-ancestors']).toBe("'self'");
      // Plain HTTP: no upgrade-insecure-requests, or the browser would fetch Swagger UI's files over https.
      expect(csp).not.toHaveProperty('upgrade-insecure-requests');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
      // Honoured in secure contexts only, and reported in the browser's console otherwise.
      expect(res.headers['cross-origin-opener-policy']).toBeUndefined();
      expect(res.headers['origin-agent-cluster']).toBeUndefined();
      expect(res.headers['x-powered-by']).toBeUndefined();
    });

    it('leave the answers themselves alone', async () => {
      const live = await fetchRaw(`${running.url}/health/live`);
      expect(live.status).toBe(200);
      expect(live.headers['content-type']).toMatch(/^application\/json/);
      const docs = await fetchRaw(`${running.url}/docs`);
      expect(docs.status).toBe(200);
      expect(docs.body).toContain('swagger-ui-bundle.js');
    });
  });

  describe('CORS', () => {
    const preflight = (url: string, origin: string, method = 'POST') =>
      fetchRaw(`${url}/v1/alerts`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
      });

    it('is off by default: no origin is allowed, and a preflight is not answered as one', async () => {
      const running = await start(store);
      try {
        const simple = await fetchRaw(`${running.url}/health/live`, { headers: { origin: 'https://oncall.example.com' } });
        expect(simple.status).toBe(200);
        expect(simple.headers['access-control-allow-origin']).toBeUndefined();
        const pre = await preflight(running.url, 'https://oncall.example.com');
        expect(pre.status).toBe(404);
        expect(pre.headers['access-control-allow-origin']).toBeUndefined();
        expect(pre.headers['access-control-allow-methods']).toBeUndefined();
      } finally {
        await running.close();
      }
    });

    it('allows the configured origins only', async () => {
      // The trailing slash is how people paste origins; browsers send none.
      const running = await start(store, { cors_origins: ['https://oncall.example.com/', 'http://localhost:3000'] });
      try {
        const pre = await preflight(running.url, 'https://oncall.example.com');
        expect(pre.status).toBe(204);
        expect(pre.headers['access-control-allow-origin']).toBe('https://oncall.example.com');
        expect(pre.headers['access-control-allow-methods']).toContain('POST');
        expect(pre.headers['access-control-allow-headers']).toMatch(/authorization/i);
        expect(pre.headers['access-control-max-age']).toBe('600');
        // PATCH /v1/incidents/{id} too.
        const patch = await preflight(running.url, 'https://oncall.example.com', 'PATCH');
        expect(patch.headers['access-control-allow-methods']?.split(/,\s*/)).toContain('PATCH');
        const simple = await fetchRaw(`${running.url}/health/live`, { headers: { origin: 'http://localhost:3000' } });
        expect(simple.headers['access-control-allow-origin']).toBe('http://localhost:3000');
        expect(simple.headers['access-control-expose-headers']).toMatch(/retry-after/i);
        expect(simple.headers['vary']).toMatch(/origin/i);

        for (const origin of ['https://evil.example.com', 'http://oncall.example.com', 'https://oncall.example.com.evil.example']) {
          const refused = await preflight(running.url, origin);
          expect(refused.headers['access-control-allow-origin']).toBeUndefined();
          const get = await fetchRaw(`${running.url}/health/live`, { headers: { origin } });
          expect(get.headers['access-control-allow-origin']).toBeUndefined();
        }
      } finally {
        await running.close();
      }
    });

    it('refuses a configured value that is not an origin, naming the key', async () => {
      await expect(start(store, { cors_origins: ['*'] })).rejects.toMatchObject({ name: 'ConfigError', key: 'server.cors_origins' });
      await expect(start(store, { cors_origins: ['oncall.example.com'] })).rejects.toThrow(/server\.cors_origins: "oncall\.example\.com" is not an origin/);
    });
  });

  describe('TLS', () => {
    let tls: Awaited<ReturnType<typeof makeCertificate>>;
    let running: Running;
    beforeAll(async () => {
      tls = await makeCertificate(dir);
      running = await start(store, { tls_cert_path: tls.certPath, tls_key_path: tls.keyPath, request_header_timeout_secs: 1 }, true);
    });
    afterAll(() => running.close());

    it("the container's health check (dist/health/healthcheck.js) follows the configuration: HTTPS with TLS on, its port, and fails when nothing is ready", async () => {
      const healthcheck = (env: Record<string, string>) =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ['-r', './scripts/ts-register.js', 'src/health/healthcheck.ts'], {
            cwd: ROOT,
            env: { PATH: process.env.PATH ?? '', LLM_IM__SERVER__HOST: '127.0.0.1', ...store.processEnv(), ...env },
          });
          let stderr = '';
          child.stderr.on('data', (d) => (stderr += d));
          child.on('exit', (code) => resolve({ code, stderr }));
        });
      const port = new URL(running.url).port;
      const withTls = { LLM_IM__SERVER__HTTP_PORT: port, LLM_IM__SERVER__TLS_CERT_PATH: tls.certPath, LLM_IM__SERVER__TLS_KEY_PATH: tls.keyPath };
      expect(await healthcheck(withTls)).toEqual({ code: 0, stderr: '' });
      // Plain HTTP against the TLS port is no answer: the check must have used HTTPS above.
      const plain = await healthcheck({ LLM_IM__SERVER__HTTP_PORT: port });
      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain(`http://127.0.0.1:${port}/health/ready`);
      // Nothing listening on the port: down.
      const down = await healthcheck({ ...withTls, LLM_IM__SERVER__HTTP_PORT: String(await freePort()) });
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/ECONNREFUSED/);
    });

    it('serves HTTPS with the configured certificate, and no plain HTTP on that port', async () => {
      expect(running.url).toMatch(/^https:/);
      const live = await fetchRaw(`${running.url}/health/live`, { ca: tls.cert });
      expect(live.status).toBe(200);
      expect(JSON.parse(live.body)).toEqual({ status: 'ok' });
      // Over TLS the browser may upgrade anything insecure, and the secure-context headers apply.
      expect(live.headers['content-security-policy']).toContain('upgrade-insecure-requests');
      expect(live.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(live.headers['origin-agent-cluster']).toBe('?1');
      expect(live.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      // Not trusted without the CA: the certificate really is the test's own.
      await expect(fetchRaw(`${running.url}/health/live`)).rejects.toThrow(/self[- ]signed/i);
      await expect(fetchRaw(running.url.replace('https:', 'http:') + '/health/live')).rejects.toThrow();
    });

    it('serves gRPC over TLS; the health service needs no key', async () => {
      const definition = protoLoader.loadSync([HEALTH_PROTO], PROTO_LOADER_OPTIONS);
      const { Health } = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1;
      const check = (credentials: grpc.ChannelCredentials) => {
        // The certificate names localhost; TLS has no server name for an IP address.
        const client = new Health(running.grpcAddress, credentials, { 'grpc.ssl_target_name_override': 'localhost' }) as grpc.Client & Record<string, any>;
        return new Promise<{ err: grpc.ServiceError | null; reply: unknown }>((resolve) =>
          client.Check({ service: '' }, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, reply: unknown) => {
            client.close();
            resolve({ err, reply });
          }),
        );
      };
      const secure = await check(grpc.credentials.createSsl(Buffer.from(tls.cert)));
      expect(secure.err).toBeNull();
      expect(secure.reply).toEqual({ status: 'SERVING' });
      const insecure = await check(grpc.credentials.createInsecure());
      expect(insecure.err?.code).toBe(grpc.status.UNAVAILABLE);
    });

    it('cuts off a slow client over TLS as well', async () => {
      const { port } = new URL(running.url);
      const cut = await slowClient(
        () => tlsConnect({ host: '127.0.0.1', port: Number(port), ca: tls.cert, servername: 'localhost' }),
        'GET /health/live HTTP/1.1\r\nHost: localhost\r\n',
        'X-Slow: 1\r\n',
      );
      expectTimeoutAnswer(cut);
      expect(cut.elapsedMs).toBeGreaterThanOrEqual(900);
      expect(cut.elapsedMs).toBeLessThan(20_000);
    });

    it.each([
      [
        'a missing certificate file',
        (t: typeof tls) => ({ tls_cert_path: join(dir, 'nope.pem'), tls_key_path: t.keyPath }),
        'server.tls_cert_path',
        /cannot read .*nope\.pem/,
      ],
      [
        'a key file where the certificate should be',
        (t: typeof tls) => ({ tls_cert_path: t.keyPath, tls_key_path: t.keyPath }),
        'server.tls_cert_path',
        /does not hold a PEM certificate/,
      ],
      [
        'a certificate file where the key should be',
        (t: typeof tls) => ({ tls_cert_path: t.certPath, tls_key_path: t.certPath }),
        'server.tls_key_path',
        /does not hold a PEM private key/,
      ],
    ])('refuses %s, naming the key', async (_name, server, key, message) => {
      const err = await start(store, server(tls)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).key).toBe(key);
      expect((err as ConfigError).message).toMatch(message);
    });

    it('refuses a key that does not belong to the certificate', async () => {
      const other = await makeCertificate(mkdtempSync(join(dir, 'other-')));
      const err = await start(store, { tls_cert_path: tls.certPath, tls_key_path: other.keyPath }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).key).toBe('server.tls_key_path');
      expect((err as ConfigError).message).toMatch(/is not the key of the certificate/);
    });

    it('the service process: logs the addresses it bound (https with TLS), and stops with a message naming the key when a file cannot be read', async () => {
      const run = (env: Record<string, string>) => {
        const child = spawn(process.execPath, ['-r', './scripts/ts-register.js', 'src/main.ts'], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', LLM_IM__SERVER__HOST: '127.0.0.1', ...store.processEnv(), ...env },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          child.stdout.on('data', () => {
            if (stdout.includes('LLM Incident Manager listening')) child.kill('SIGTERM');
          });
          child.on('exit', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
          });
        });
      };
      const ports = async () => ({ LLM_IM__SERVER__HTTP_PORT: String(await freePort()), LLM_IM__SERVER__GRPC_PORT: String(await freePort()) });

      const bound = await ports();
      const good = await run({ ...bound, LLM_IM__SERVER__TLS_CERT_PATH: tls.certPath, LLM_IM__SERVER__TLS_KEY_PATH: tls.keyPath });
      const line = good.stdout.split('\n').find((l) => l.includes('LLM Incident Manager listening'));
      expect(line).toBeDefined();
      // The addresses the sockets hold: server.host is 127.0.0.1 here, so no word about every interface.
      expect(JSON.parse(line as string)).toMatchObject({
        http: `https://127.0.0.1:${bound.LLM_IM__SERVER__HTTP_PORT}`,
        grpc: `127.0.0.1:${bound.LLM_IM__SERVER__GRPC_PORT}`,
        grpc_tls: true,
      });
      expect(JSON.parse(line as string)).not.toHaveProperty('reachable_on');

      // Port 0: the system chooses, and the log says which ports it chose.
      const chosen = await run({ LLM_IM__SERVER__HTTP_PORT: '0', LLM_IM__SERVER__GRPC_PORT: '0' });
      const chosenLine = JSON.parse(chosen.stdout.split('\n').find((l) => l.includes('LLM Incident Manager listening')) as string);
      expect(chosenLine.http).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
      expect(chosenLine.grpc).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);

      // The default host, 0.0.0.0, is printed as bound (every IPv4 interface), not as 127.0.0.1.
      const everywhere = await ports();
      const open = await run({ ...everywhere, LLM_IM__SERVER__HOST: '0.0.0.0' });
      const openLine = JSON.parse(open.stdout.split('\n').find((l) => l.includes('LLM Incident Manager listening')) as string);
      expect(openLine).toMatchObject({
        http: `http://0.0.0.0:${everywhere.LLM_IM__SERVER__HTTP_PORT}`,
        grpc: `0.0.0.0:${everywhere.LLM_IM__SERVER__GRPC_PORT}`,
        grpc_tls: false,
        reachable_on: expect.stringContaining('every interface'),
      });

      const bad = await run({ ...(await ports()), LLM_IM__SERVER__TLS_CERT_PATH: join(dir, 'missing.pem'), LLM_IM__SERVER__TLS_KEY_PATH: tls.keyPath });
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim()).toBe(
        `invalid configuration: server.tls_cert_path: cannot read ${join(dir, 'missing.pem')}: ENOENT: no such file or directory, open '${join(dir, 'missing.pem')}'`,
      );
    });
  });

  describe('read timeouts', () => {
    it('cut off a client that sends nothing, or trickles its headers, after the header timeout', async () => {
      // The request timeout is far away: only the header timeout can explain the cut-off.
      const running = await start(store, { request_header_timeout_secs: 1, request_timeout_secs: 120 });
      try {
        const [silent, trickling] = await Promise.all([
          slowClient(plain(running.url), '', ''),
          slowClient(plain(running.url), 'GET /health/live HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: 1\r\n'),
        ]);
        for (const cut of [silent, trickling]) {
          expectTimeoutAnswer(cut);
          expect(cut.elapsedMs).toBeGreaterThanOrEqual(900);
          expect(cut.elapsedMs).toBeLessThan(25_000);
        }
        expect(await running.connections()).toBe(0);
      } finally {
        await running.close();
      }
    });

    it('process nothing of a request the client completes once it has its 408', async () => {
      const running = await start(store, { request_header_timeout_secs: 1, request_timeout_secs: 120 });
      try {
        const body = JSON.stringify(alert({ title: 'completed after its 408' }));
        const head = `POST /v1/alerts HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
        const cut = await slowClient(plain(running.url), head, 'X-Slow: 1\r\n', (socket) => socket.write(`\r\n${body}`));
        expectTimeoutAnswer(cut);
        const listed = async () => JSON.parse((await fetchRaw(`${running.url}/v1/incidents`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).body);
        await new Promise((r) => setTimeout(r, 500));
        expect(await listed()).toMatchObject({ total: 0 });
        // The same request sent whole is taken: the check above can see an incident.
        const whole = await slowClient(plain(running.url), `${head}Connection: close\r\n\r\n${body}`, '');
        expect(whole.answer).toMatch(/^HTTP\/1\.1 200 /);
        expect(await listed()).toMatchObject({ total: 1, items: [{ title: 'completed after its 408' }] });
      } finally {
        await running.close();
      }
    });

    it('cut off a client that trickles its body after the request timeout (without a key: at once, its body unread)', async () => {
      const running = await start(store, { request_header_timeout_secs: 1, request_timeout_secs: 2 });
      try {
        const body = JSON.stringify({ source: 'slowloris', title: 'never whole', severity: 'P2', alert_type: 'Application' });
        const head = `POST /v1/alerts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 100_000}\r\n`;
        const anonymous = await slowClient(plain(running.url), `${head}\r\n${body}`, ' ');
        expect(anonymous.answer.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
        expect(anonymous.elapsedMs).toBeLessThan(1900);
        const cut = await slowClient(plain(running.url), `${head}Authorization: Bearer ${ADMIN_KEY}\r\n\r\n${body}`, ' ');
        expectTimeoutAnswer(cut);
        expect(cut.elapsedMs).toBeGreaterThanOrEqual(1900);
        expect(cut.elapsedMs).toBeLessThan(25_000);
        expect(await running.connections()).toBe(0);
      } finally {
        await running.close();
      }
    });

    it('leave kept-alive connections of normal clients alone, however long they idle between requests', async () => {
      const running = await start(store, { request_header_timeout_secs: 1, request_timeout_secs: 2 });
      try {
        const { port } = new URL(running.url);
        const socket = netConnect({ host: '127.0.0.1', port: Number(port) });
        let received = '';
        socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
        const answers = () => received.split('HTTP/1.1 ').length - 1;
        const waitFor = async (n: number) => {
          for (let i = 0; i < 200 && answers() < n; i++) await new Promise((r) => setTimeout(r, 50));
        };
        socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n');
        await waitFor(1);
        // Idle well past both timeouts: they only run while a request is being received.
        await new Promise((r) => setTimeout(r, 3500));
        expect(socket.destroyed).toBe(false);
        socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n');
        await waitFor(2);
        socket.destroy();
        expect(received.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
      } finally {
        await running.close();
      }
    });
  });
});
