import { get as httpGet } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { LoggerService } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import request from 'supertest';
import { Kysely } from 'kysely';
import { createApp } from '../src/app';
import { grants, SCOPES, Scope } from '../src/auth/api-key-format';
import { KeyLimits } from '../src/auth/key-limits';
import { DATABASE } from '../src/database/tokens';
import type { Database } from '../src/database/schema';
import { HEALTH_PROTO, INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS } from '../src/grpc/grpc.server';
import { WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { ADMIN_KEY, alert, authedHttp, drivers, grpcKeyInterceptor, ManualClock, RunningApp, startApp, TestStore, waitUntil } from './support/harness';
import { IncidentEventStream } from '../src/incidents/incident-event-stream';

/** The status of a GET that may open a stream (the server-sent events route): it is read from the head, then the request ends. */
function streamStatus(port: number, path: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${key}` } }, (res) => {
      resolve(res.statusCode!);
      req.destroy();
    });
    req.on('error', reject);
  });
}

/** The status line of a raw GET (supertest would normalise the target). */
function rawGet(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => resolve(text.split('\r\n')[0]));
    socket.on('error', reject);
  });
}

/** Every log line the app writes, as text, for checking what was (and was not) logged. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, context?: string) {
    this.lines.push(`${context ?? ''} ${JSON.stringify(message)}`);
  }
  warn(message: unknown, context?: string) {
    this.log(message, context);
  }
  error(message: unknown, context?: string) {
    this.log(message, context);
  }
  text(): string {
    return this.lines.join('\n');
  }
}

/**
 * What each route must need, written by hand: the test above derives its expectations from the
 * routes' own declarations, so a route declaring the wrong scope would pass it; this table
 * would not.
 */
const REST_SCOPES: Record<string, string> = {
  'GET /metrics': 'metrics:read',
  'POST /v1/api-keys': 'admin',
  'GET /v1/api-keys': 'admin',
  'POST /v1/api-keys/{id}/revoke': 'admin',
  'POST /v1/admin/config/reload': 'admin',
  'POST /v1/session': 'none (the API key in the body, or the session cookie)',
  'GET /v1/session': 'none (the API key in the body, or the session cookie)',
  'DELETE /v1/session': 'none (the API key in the body, or the session cookie)',
  'GET /v1/incidents/events': 'incidents:read',
  'POST /v1/incidents': 'incidents:write',
  'GET /v1/incidents': 'incidents:read',
  'GET /v1/incidents/{id}': 'incidents:read',
  'PATCH /v1/incidents/{id}': 'incidents:write',
  'POST /v1/incidents/{id}/transition': 'incidents:write',
  'POST /v1/incidents/{id}/acknowledge': 'incidents:write',
  'POST /v1/incidents/{id}/resolve': 'incidents:write',
  'POST /v1/incidents/{id}/close': 'incidents:write',
  'POST /v1/incidents/{id}/notes': 'incidents:write',
  'GET /v1/incidents/{id}/timeline': 'incidents:read',
  'GET /v1/incidents/{id}/alerts': 'incidents:read',
  'GET /v1/incidents/{id}/upstream-alerts': 'incidents:read',
  'POST /v1/alerts': 'alerts:write',
  'POST /v1/integrations/alertmanager': 'alerts:write',
  'POST /v1/integrations/grafana': 'alerts:write',
  'POST /v2/enqueue': 'alerts:write',
  'POST /v1/integrations/pagerduty/enqueue': 'alerts:write',
  'POST /v1/integrations/slack/interactions': 'credential:header.x-slack-signature',
  'POST /v1/integrations/pagerduty/webhooks': 'credential:header.x-pagerduty-signature',
  'POST /v1/integrations/twilio/sms': 'credential:header.x-twilio-signature',
  'POST /v1/integrations/twilio/voice/gather': 'credential:header.x-twilio-signature',
  'POST /v1/integrations/twilio/voice/status': 'credential:header.x-twilio-signature',
  'GET /v1/incidents/{id}/notifications': 'incidents:read',
  'POST /v1/incidents/{id}/notifications': 'notifications:write',
  'POST /v1/notifications/{id}/retry': 'notifications:write',
  'GET /v1/notifications/dead-letters': 'incidents:read',
  'GET /v1/notifications/stats': 'incidents:read',
  'POST /v1/notifications/test': 'notifications:write',
  'POST /v1/silences': 'incidents:write',
  'GET /v1/silences': 'incidents:read',
  'POST /v1/silences/preview': 'incidents:read',
  'GET /v1/silences/{id}': 'incidents:read',
  'POST /v1/silences/{id}/expire': 'incidents:write',
  'GET /v1/routing': 'incidents:read',
  'POST /v1/routing/explain': 'incidents:read',
  'POST /v1/users': 'people:write',
  'GET /v1/users': 'incidents:read',
  'GET /v1/users/{id}': 'incidents:read',
  'PATCH /v1/users/{id}': 'people:write',
  'POST /v1/users/{id}/deactivate': 'people:write',
  'POST /v1/users/{id}/reactivate': 'people:write',
  'POST /v1/users/{id}/calendar-link': 'people:write',
  'POST /v1/teams': 'people:write',
  'GET /v1/teams': 'incidents:read',
  'GET /v1/teams/{id}': 'incidents:read',
  'PATCH /v1/teams/{id}': 'people:write',
  'DELETE /v1/teams/{id}': 'people:write',
  'POST /v1/schedules': 'people:write',
  'GET /v1/schedules': 'incidents:read',
  'GET /v1/schedules/{id}': 'incidents:read',
  'PATCH /v1/schedules/{id}': 'people:write',
  'DELETE /v1/schedules/{id}': 'people:write',
  'GET /v1/schedules/{id}/on-call': 'incidents:read',
  'GET /v1/schedules/{id}/shifts': 'incidents:read',
  'GET /v1/schedules/{id}/overrides': 'incidents:read',
  'POST /v1/schedules/{id}/overrides': 'people:write',
  'DELETE /v1/schedules/{id}/overrides/{overrideId}': 'people:write',
  'GET /v1/on-call': 'incidents:read',
  'GET /v1/reports/response': 'incidents:read',
  'GET /v1/calendars/{token}/shifts.ics': 'credential:path.token',
  'GET /v1/calendars/{token}/schedules/{id}.ics': 'credential:path.token',
  'GET /v1/ack/{token}': 'credential:path.token',
  'POST /v1/ack/{token}': 'credential:path.token',
  'GET /health/live': 'public',
  'GET /health/ready': 'public',
};

/** The same for gRPC: each RPC and the scope it must need (health is open). */
const GRPC_SCOPES: Array<[service: string, method: string, scope: Scope]> = [
  ['AlertIngestion', 'SubmitAlert', 'alerts:write'],
  ['AlertIngestion', 'SubmitAlerts', 'alerts:write'],
  ['IncidentService', 'CreateIncident', 'incidents:write'],
  ['IncidentService', 'GetIncident', 'incidents:read'],
  ['IncidentService', 'ListIncidents', 'incidents:read'],
  ['IncidentService', 'UpdateIncident', 'incidents:write'],
  ['IncidentService', 'TransitionIncident', 'incidents:write'],
  ['IncidentService', 'ResolveIncident', 'incidents:write'],
  ['IncidentService', 'CloseIncident', 'incidents:write'],
  ['IncidentService', 'AcknowledgeIncident', 'incidents:write'],
  ['IncidentService', 'AddNote', 'incidents:write'],
];

async function createKey(http: ReturnType<typeof request>, name: string, scopes: Scope[], extra: object = {}): Promise<{ key: string; id: string }> {
  const res = await http
    .post('/v1/api-keys')
    .send({ name, scopes, ...extra })
    .expect(201);
  return { key: res.body.key, id: res.body.id };
}

/**
 * The routes of the OpenAPI document with the scope each declares, with concrete paths, and where
 * the key goes: the Authorization header, or the body (x-credential, the PagerDuty route's routing_key).
 */
async function routesOf(running: RunningApp): Promise<{ method: string; path: string; scope?: Scope; credential?: string }[]> {
  const doc = (await running.anon.get('/docs/openapi.json').expect(200)).body;
  const routes: { method: string; path: string; scope?: Scope; credential?: string }[] = [];
  for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      routes.push({
        method,
        path: path
          .replace('{id}', '00000000-0000-4000-8000-000000000000')
          .replace('{overrideId}', '00000000-0000-4000-8000-000000000001')
          .replace('{token}', 'A'.repeat(43)),
        scope: op['x-required-scope'],
        credential: op['x-credential'],
      });
    }
  }
  return routes;
}

for (const driver of drivers()) {
  describe(`authentication and scopes on ${driver}`, () => {
    let store: TestStore;
    let running: RunningApp;

    beforeEach(async () => {
      store = await TestStore.create(driver);
      running = await startApp(store);
    });
    afterEach(async () => {
      await running.close();
      await store.destroy();
    });

    it('declares on every route the scope this hand-written table says, and no route is missing from it or extra', async () => {
      const declared = Object.fromEntries(
        (await routesOf(running)).map((r) => [
          `${r.method.toUpperCase()} ${r.path.replace('00000000-0000-4000-8000-000000000000', '{id}').replace('00000000-0000-4000-8000-000000000001', '{overrideId}').replace('A'.repeat(43), '{token}')}`,
          r.scope ?? (r.credential ? `credential:${r.credential}` : 'public'),
        ]),
      );
      expect(declared).toEqual(REST_SCOPES);
    });

    it('states a scope on every route but health, and refuses each without a key (401) and with a key lacking the scope (403)', async () => {
      const routes = await routesOf(running);
      expect(routes.length).toBeGreaterThan(15);
      const open = routes.filter((r) => r.path.startsWith('/health/')).map((r) => r.path);
      expect(open.sort()).toEqual(['/health/live', '/health/ready']);
      const keys = new Map<Scope, string>();
      for (const scope of SCOPES) keys.set(scope, (await createKey(running.http, `only-${scope}`, [scope])).key);
      // Slack's interactions, PagerDuty's webhooks and Twilio's callbacks (test/phone.spec.ts) carry their sender's signature instead of a key (test/routing.spec.ts,
      // test/pagerduty-webhooks.spec.ts test them): a key alone gets nothing.
      const signed = routes.filter((r) => r.credential?.startsWith('header.x-') && r.credential.endsWith('-signature'));
      expect(signed.map((r) => r.path.replace(/\?.*$/, '')).sort()).toEqual([
        '/v1/integrations/pagerduty/webhooks',
        '/v1/integrations/slack/interactions',
        '/v1/integrations/twilio/sms',
        '/v1/integrations/twilio/voice/gather',
        '/v1/integrations/twilio/voice/status',
      ]);
      for (const route of signed) expect((await (running.http as any)[route.method](route.path).send({})).status).toBeGreaterThanOrEqual(400);
      // The console's sign-in takes a key in its body and hands out a session (test/console-api.spec.ts tests it): nothing without one.
      const session = routes.filter((r) => r.credential === 'session');
      expect(session.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['delete /v1/session', 'get /v1/session', 'post /v1/session']);
      for (const route of session) {
        const res = await (running.anon as any)[route.method](route.path).send({});
        expect({ route, status: res.status }).toEqual({ route, status: route.method === 'post' ? 400 : 401 });
      }
      // Calendar feeds and acknowledgement links: no credentials but the token in the path (test/people.spec.ts, test/ack-links.spec.ts test them).
      const tokened = routes.filter((r) => r.credential === 'path.token');
      expect(tokened.map((r) => r.path).sort()).toEqual([
        `/v1/ack/${'A'.repeat(43)}`,
        `/v1/ack/${'A'.repeat(43)}`,
        `/v1/calendars/${'A'.repeat(43)}/schedules/00000000-0000-4000-8000-000000000000.ics`,
        `/v1/calendars/${'A'.repeat(43)}/shifts.ics`,
      ]);
      for (const route of tokened) expect((await (running.anon as any)[route.method](route.path)).status).toBe(404);
      for (const route of routes.filter((r) => !r.path.startsWith('/health/') && !signed.includes(r) && !session.includes(r) && !tokened.includes(r))) {
        expect({ route, scope: route.scope }).toEqual({ route, scope: expect.stringMatching(/:|admin/) });
        const anonymous = await (running.anon as any)[route.method](route.path).send({});
        // The PagerDuty route answers in PagerDuty's shape, with the code beside its status text.
        const codeOf = (res: { body: any }) => res.body.error?.code ?? res.body.code;
        expect({ route, status: anonymous.status, code: codeOf(anonymous) }).toEqual({ route, status: 401, code: 'UNAUTHENTICATED' });
        expect(anonymous.headers['www-authenticate']).toBe('Bearer');
        for (const scope of SCOPES) {
          const res =
            route.path === '/v1/incidents/events' && grants([scope], route.scope!)
              ? { status: await streamStatus((running.app.getHttpServer().address() as AddressInfo).port, route.path, keys.get(scope)!), body: {} }
              : route.credential === 'body.routing_key'
                ? await (running.anon as any)[route.method](route.path).send({ routing_key: keys.get(scope) })
                : await (authedHttp(running.app.getHttpServer(), keys.get(scope)) as any)[route.method](route.path).send({});
          if (grants([scope], route.scope!)) expect({ route, scope, refused: [401, 403, 429].includes(res.status) }).toEqual({ route, scope, refused: false });
          else expect({ route, scope, status: res.status, code: codeOf(res) }).toEqual({ route, scope, status: 403, code: 'FORBIDDEN' });
        }
      }
      await running.anon.get('/health/live').expect(200);
      await running.anon.get('/health/ready').expect(200);
    });

    it('refuses missing, malformed, unknown and wrong-secret keys alike, and logs each failure without the presented key', async () => {
      await running.close();
      const logger = new CapturingLogger();
      const app = await createApp(store.config(), { logger });
      await app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const anon = request(app.getHttpServer());
        const wrongSecret = ADMIN_KEY.slice(0, -8) + 'bbbbbbbb';
        const unknown = 'lim_00000000000000ff_' + 'c'.repeat(64);
        for (const header of [
          undefined,
          'Bearer',
          'Basic YWxpY2U6c2VjcmV0',
          'Bearer not-a-key',
          `Bearer ${unknown}`,
          `Bearer ${wrongSecret}`,
          `${ADMIN_KEY}`,
        ]) {
          const req = anon.get('/v1/incidents');
          const res = await (header === undefined ? req : req.set('authorization', header));
          expect({ header, status: res.status, code: res.body.error.code }).toEqual({ header, status: 401, code: 'UNAUTHENTICATED' });
        }
        const text = logger.text();
        expect(text).toContain('"reason":"wrong secret"');
        expect(text).toContain('"reason":"unknown"');
        expect(text).toContain('"reason":"missing"');
        for (const secret of [wrongSecret.slice(21), unknown.slice(21), 'YWxpY2U6c2VjcmV0', 'not-a-key', ADMIN_KEY.slice(21)])
          expect(text).not.toContain(secret);
      } finally {
        await app.close();
      }
    });

    it('shows a key once, lists keys without secrets, stores only a hash, and records the key name in the timeline beside the actor', async () => {
      const created = await running.http
        .post('/v1/api-keys')
        .send({ name: 'ops-bot', scopes: ['incidents:write', 'incidents:read'] })
        .expect(201);
      expect(created.body.key).toMatch(/^lim_[0-9a-f]{16}_[0-9a-f]{64}$/);
      expect(created.body).toMatchObject({ name: 'ops-bot', scopes: ['incidents:write', 'incidents:read'], status: 'active', created_by: 'bootstrap' });
      const listed = await running.http.get('/v1/api-keys').expect(200);
      expect(listed.body.map((k: any) => k.name).sort()).toEqual(['bootstrap', 'ops-bot']);
      const secret = created.body.key.slice(21);
      expect(JSON.stringify(listed.body)).not.toContain(secret);
      expect(JSON.stringify(listed.body)).not.toContain('secret_hash');
      const rows = await running.app.get<Kysely<Database>>(DATABASE).selectFrom('api_keys').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(secret);

      const bot = authedHttp(running.app.getHttpServer(), created.body.key);
      const incident = await bot
        .post('/v1/incidents')
        .send({ title: 'Disk full', description: 'db-1', severity: 'P2', incident_type: 'Infrastructure', source: 'manual', actor: 'alice' });
      expect(incident.status).toBe(201);
      await bot.post(`/v1/incidents/${incident.body.id}/notes`).send({ author: 'alice', content: 'looking' }).expect(201);
      const timeline = (await running.http.get(`/v1/incidents/${incident.body.id}/timeline`).expect(200)).body;
      expect(timeline.map((e: any) => [e.event_type, e.actor, e.api_key_name])).toEqual([
        ['created', 'alice', 'ops-bot'],
        ['note_added', 'alice', 'ops-bot'],
      ]);
      // The key can do what its scopes allow, nothing more.
      await bot
        .post('/v1/api-keys')
        .send({ name: 'x', scopes: ['admin'] })
        .expect(403);
      await bot.post('/v1/alerts').send(alert()).expect(403);
    });

    it('refuses bad key requests with 400 naming the field', async () => {
      const cases: [object, string][] = [
        [{ scopes: ['admin'] }, 'name'],
        [{ name: 'x', scopes: [] }, 'scopes'],
        [{ name: 'x', scopes: ['root'] }, 'scopes'],
        [{ name: 'x', scopes: 'admin' }, 'scopes'],
        [{ name: 'x', scopes: ['admin'], expires_at: 'tomorrow' }, 'expires_at'],
        [{ name: 'x', scopes: ['admin'], expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      ];
      for (const [body, field] of cases) {
        const res = await running.http.post('/v1/api-keys').send(body).expect(400);
        expect(res.body.error.details.fields.map((f: any) => f.field.replace(/\[\d+\]$/, ''))).toContain(field);
      }
      await running.http.post('/v1/api-keys/zzzz/revoke').expect(400);
      await running.http.post('/v1/api-keys/0123456789abcdef/revoke').expect(404);
      expect((await running.http.get('/v1/api-keys').expect(200)).body).toHaveLength(1);
    });

    it('stops a revoked key at once on this instance and within key_cache_secs on another sharing the store', async () => {
      const other = await startApp(store, { overrides: { auth: { key_cache_secs: 1 } } });
      try {
        const { key, id } = await createKey(running.http, 'short-lived', ['incidents:read']);
        const here = authedHttp(running.app.getHttpServer(), key);
        const there = authedHttp(other.app.getHttpServer(), key);
        await here.get('/v1/incidents').expect(200);
        await there.get('/v1/incidents').expect(200);
        const revoked = await running.http.post(`/v1/api-keys/${id}/revoke`).expect(200);
        expect(revoked.body).toMatchObject({ id, status: 'revoked', revoked_at: expect.any(String) });
        await here.get('/v1/incidents').expect(401);
        const deadline = Date.now() + 5_000;
        let status = 200;
        while (status !== 401 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          status = (await there.get('/v1/incidents')).status;
        }
        expect(status).toBe(401);
        expect((await running.http.get('/v1/api-keys').expect(200)).body.find((k: any) => k.id === id).last_used_at).toEqual(expect.any(String));
      } finally {
        await other.close();
      }
    });

    it('stops an expired key', async () => {
      await running.close();
      const clock = new ManualClock();
      running = await startApp(store, { clock });
      const expiresAt = new Date(clock.now().getTime() + 60_000).toISOString();
      const { key } = await createKey(running.http, 'temp', ['incidents:read'], { expires_at: expiresAt });
      const temp = authedHttp(running.app.getHttpServer(), key);
      await temp.get('/v1/incidents').expect(200);
      clock.advance(61);
      const res = await temp.get('/v1/incidents').expect(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
      expect((await running.http.get('/v1/api-keys').expect(200)).body.find((k: any) => k.name === 'temp').status).toBe('expired');
    });

    it('limits ingestion per key: over the bucket, 429 with Retry-After and nothing written; another key has its own bucket', async () => {
      await running.close();
      running = await startApp(store, { overrides: { limits: { ingest_rate_per_sec: 1, ingest_burst: 3 } } });
      const a = await createKey(running.http, 'prom-a', ['alerts:write']);
      const b = await createKey(running.http, 'prom-b', ['alerts:write']);
      const promA = authedHttp(running.app.getHttpServer(), a.key);
      await promA
        .post('/v1/alerts')
        .send([alert({ title: 'a1' }), alert({ title: 'a2' })])
        .expect(200);
      const refused = await promA
        .post('/v1/alerts')
        .send([alert({ title: 'a3' }), alert({ title: 'a4' })])
        .expect(429);
      expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED', status: 429, details: { limit: 'limits.ingest_rate_per_sec' } });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const incidents = (await running.http.get('/v1/incidents').expect(200)).body;
      expect(incidents.items.map((i: any) => i.title).sort()).toEqual(['a1', 'a2']);
      await authedHttp(running.app.getHttpServer(), b.key)
        .post('/v1/alerts')
        .send(alert({ title: 'b1' }))
        .expect(200);
    });

    it('serves Swagger without a key by default, and only with one when auth.docs_public is off', async () => {
      await running.anon.get('/docs/openapi.json').expect(200);
      await running.close();
      running = await startApp(store, { overrides: { auth: { docs_public: false } } });
      const refused = await running.anon.get('/docs/openapi.json').expect(401);
      expect(refused.body.error.code).toBe('UNAUTHENTICATED');
      await running.anon.get('/docs').expect(401);
      // The gate judges the route Fastify matched, not the raw URL.
      const { port } = running.app.getHttpServer().address() as AddressInfo;
      for (const target of ['/%64ocs/openapi.json', '/docs/%6Fpenapi.json', `http://127.0.0.1:${port}/docs/openapi.json`, '/docs/']) {
        const answer = await rawGet(port, target);
        expect({ target, status: answer }).toEqual({ target, status: expect.not.stringMatching(/^HTTP\/1\.1 200/) });
      }
      await running.http.get('/docs/openapi.json').expect(200);
      await running.anon.get('/health/live').expect(200);
    });
  });
}

describe('requests in progress per key', () => {
  it('answers 429 past max_concurrent_requests_per_key and frees each slot when its answer is done', async () => {
    const store = await TestStore.create('sqlite');
    const sink = await webhookSink();
    sink.delayMs = 1_000; // each test send holds its request open this long
    const running = await startApp(store, {
      overrides: { limits: { max_concurrent_requests_per_key: 2 }, notifications: { webhook_enabled: true, default_webhook_url: `${sink.url}/hook` } },
      env: WEBHOOK_SIGNING_ENV,
    });
    try {
      const { key } = await createKey(running.http, 'tester', ['notifications:write', 'incidents:read']);
      const tester = () => authedHttp(running.app.getHttpServer(), key);
      const answers = await Promise.all([0, 1, 2].map(() => tester().post('/v1/notifications/test').send({ channel: 'webhook' })));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429]);
      const refused = answers.find((a) => a.status === 429)!;
      expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { limit: 'limits.max_concurrent_requests_per_key' } });
      expect(refused.headers['retry-after']).toBe('1');
      // Another key is not held back by this one.
      await running.http.get('/v1/notifications/stats').expect(200);
      // All slots came back: two at once pass again, also after a client that gave up mid-request.
      await tester()
        .post('/v1/notifications/test')
        .send({ channel: 'webhook' })
        .timeout(200)
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_500));
      const again = await Promise.all([0, 1].map(() => tester().post('/v1/notifications/test').send({ channel: 'webhook' })));
      expect(again.map((a) => a.status)).toEqual([200, 200]);
    } finally {
      await running.close();
      await sink.close();
      await store.destroy();
    }
  });
});

describe('auth switched off', () => {
  it('answers without a key and warns at start', async () => {
    const store = await TestStore.create('sqlite');
    const logger = new CapturingLogger();
    const app = await createApp(store.config({ auth: { enabled: false } }), { logger });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await request(app.getHttpServer()).get('/v1/incidents').expect(200);
      expect(logger.text()).toContain('authentication is OFF');
      // Keys minted while nobody is checked would all work once auth is back on.
      const refused = await request(app.getHttpServer())
        .post('/v1/api-keys')
        .send({ name: 'x', scopes: ['admin'] })
        .expect(403);
      expect(refused.body.error.message).toContain('[auth] enabled = true');
      await request(app.getHttpServer()).get('/v1/api-keys').expect(403);
    } finally {
      await app.close();
      await store.destroy();
    }
  });
});

describe('first start', () => {
  it('creates one admin key when the store has none and no bootstrap key is given, logs it once, and not again at the next start', async () => {
    const store = await TestStore.create('sqlite');
    const config = store.config({}, { LLM_IM_BOOTSTRAP_KEY: '' });
    try {
      const logger = new CapturingLogger();
      let app = await createApp(config, { logger });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const keys = logger.text().match(/lim_[0-9a-f]{16}_[0-9a-f]{64}/g) ?? [];
      expect(keys).toHaveLength(1);
      await authedHttp(app.getHttpServer(), keys[0]).get('/v1/api-keys').expect(200);
      await app.close();
      const again = new CapturingLogger();
      app = await createApp(config, { logger: again });
      await app.listen({ port: 0, host: '127.0.0.1' });
      expect(again.text()).not.toMatch(/lim_[0-9a-f]{16}_/);
      const listed = await authedHttp(app.getHttpServer(), keys[0]).get('/v1/api-keys').expect(200);
      expect(listed.body.map((k: any) => [k.name, k.scopes])).toEqual([['initial-admin', ['admin']]]);
      await app.close();
    } finally {
      await store.destroy();
    }
  });
});

describe.each(drivers())('a bootstrap key on %s', (driver) => {
  it('is stored once when two instances start with it on the same store at the same moment, and both start', async () => {
    const store = await TestStore.create(driver);
    // The schema first (two instances migrating one store at once is another matter), without the key.
    await (await createApp(store.config({}, { LLM_IM_BOOTSTRAP_KEY: '' }), { logger: new CapturingLogger() })).close();
    const key = `lim_${'e'.repeat(16)}_${'f'.repeat(64)}`;
    const config = store.config({}, { LLM_IM_BOOTSTRAP_KEY: key });
    // Both look the key up, find nothing, and insert it: the second insert used to fail its start.
    const apps = await Promise.all([createApp(config, { logger: new CapturingLogger() }), createApp(config, { logger: new CapturingLogger() })]);
    try {
      for (const app of apps) await app.listen({ port: 0, host: '127.0.0.1' });
      for (const app of apps) {
        const listed = await authedHttp(app.getHttpServer(), key).get('/v1/api-keys').expect(200);
        expect(listed.body.map((k: any) => [k.id, k.name]).sort((a: string[], b: string[]) => a[1].localeCompare(b[1]))).toEqual([
          ['e'.repeat(16), 'bootstrap'],
          [expect.any(String), 'initial-admin'],
        ]);
      }
    } finally {
      for (const app of apps) await app.close();
      await store.destroy();
    }
  });
});

describe.each(drivers())('gRPC access on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  beforeAll(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store, {
      grpc: true,
      overrides: { limits: { max_streams_per_key: 1, ingest_rate_per_sec: 1, ingest_burst: 1 }, auth: { key_cache_secs: 1 } },
    });
  });
  afterAll(async () => {
    await running.close();
    await store.destroy();
  });

  /** Live subscriptions to the incident events: a stream counts once the service has subscribed it. */
  const streams = () => running.app.get(IncidentEventStream).subscriberCount();

  function client(service: 'IncidentService' | 'AlertIngestion' | 'Health', key?: string): any {
    const definition = protoLoader.loadSync([INCIDENT_MANAGER_PROTO, HEALTH_PROTO], PROTO_LOADER_OPTIONS);
    const loaded = grpc.loadPackageDefinition(definition) as any;
    const ctor = service === 'Health' ? loaded.grpc.health.v1.Health : loaded.llm_incident_manager.v1[service];
    return new ctor(running.grpcAddress, grpc.credentials.createInsecure(), key ? { interceptors: [grpcKeyInterceptor(key)] } : {});
  }
  function call(c: any, method: string, req: object): Promise<{ err: grpc.ServiceError | null; res: any }> {
    return new Promise((resolve) => c[method](req, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: any) => resolve({ err, res })));
  }

  it('needs on every unary RPC the scope the hand-written table says: PERMISSION_DENIED with every other scope', async () => {
    const keys = new Map<Scope, string>();
    for (const scope of SCOPES) keys.set(scope, (await createKey(running.http, `grpc-${scope}`, [scope])).key);
    for (const [service, method, needed] of GRPC_SCOPES) {
      for (const scope of SCOPES) {
        const { err } = await call(client(service as 'IncidentService' | 'AlertIngestion', keys.get(scope)), method, {});
        // With the scope the call gets past the guard (and fails on its empty request, or succeeds).
        if (grants([scope], needed)) expect({ method, scope, denied: err?.code === grpc.status.PERMISSION_DENIED }).toEqual({ method, scope, denied: false });
        else expect({ method, scope, code: err?.code }).toEqual({ method, scope, code: grpc.status.PERMISSION_DENIED });
      }
    }
  });

  it('answers UNAUTHENTICATED without a key, PERMISSION_DENIED without the scope, and keeps the health service open', async () => {
    const { key } = await createKey(running.http, 'reader', ['incidents:read']);
    expect((await call(client('IncidentService'), 'ListIncidents', {})).err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await call(client('IncidentService', 'lim_nope'), 'ListIncidents', {})).err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await call(client('IncidentService', key), 'ListIncidents', {})).err).toBeNull();
    const denied = await call(client('AlertIngestion', key), 'SubmitAlert', { alert: { source: 'x', title: 't', severity: 'P2', alert_type: 'APPLICATION' } });
    expect(denied.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.err?.details).toContain('alerts:write');
    expect((await call(client('Health'), 'Check', {})).res).toEqual({ status: 'SERVING' });
  });

  it('answers RESOURCE_EXHAUSTED over the ingest rate, with nothing written', async () => {
    const { key } = await createKey(running.http, 'prom', ['alerts:write']);
    const alerts = client('AlertIngestion', key);
    const first = await call(alerts, 'SubmitAlert', { alert: { source: 'grpc', title: 'first', severity: 'P2', alert_type: 'APPLICATION' } });
    expect(first.err).toBeNull();
    const second = await call(alerts, 'SubmitAlert', { alert: { source: 'grpc', title: 'second', severity: 'P2', alert_type: 'APPLICATION' } });
    expect(second.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const items = (await running.http.get('/v1/incidents?source=grpc').expect(200)).body.items;
    expect(items.map((i: any) => i.title)).toEqual(['first']);
    // A gRPC call records its key in the timeline too.
    const timeline = (await running.http.get(`/v1/incidents/${items[0].id}/timeline`).expect(200)).body;
    expect(timeline.map((e: any) => [e.event_type, e.actor, e.api_key_name])).toEqual([['created', 'grpc', 'prom']]);
  });

  it('ends an open stream with UNAUTHENTICATED once its key is revoked', async () => {
    const { key, id } = await createKey(running.http, 'soon-revoked', ['incidents:read']);
    const subscribed = streams();
    const stream = client('IncidentService', key).StreamIncidents({});
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    await waitUntil(() => streams() > subscribed, 'the stream subscribed');
    await running.http.post(`/v1/api-keys/${id}/revoke`).expect(200);
    const err = await Promise.race([ended, new Promise<null>((r) => setTimeout(() => r(null), 8_000))]);
    expect(err?.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('limits open streams per key', async () => {
    const { key } = await createKey(running.http, 'watcher', ['incidents:read']);
    const subscribed = streams();
    const first = client('IncidentService', key).StreamIncidents({});
    first.on('error', () => undefined);
    await waitUntil(() => streams() > subscribed, 'the first stream subscribed');
    const second = client('IncidentService', key).StreamIncidents({});
    const err = await new Promise<grpc.ServiceError>((resolve) => second.on('error', resolve));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    first.cancel();
    await waitUntil(() => streams() === subscribed, 'the cancelled stream gone');
    const third = client('IncidentService', key).StreamIncidents({});
    const outcome = await Promise.race([new Promise((resolve) => third.on('error', resolve)), new Promise((r) => setTimeout(() => r('open'), 500))]);
    expect(outcome).toBe('open');
    third.cancel();
  });
});

describe('KeyLimits', () => {
  it('counts requests in progress per key and frees a slot when one ends', () => {
    const limits = new KeyLimits({ limits: { max_concurrent_requests_per_key: 2, max_streams_per_key: 1, ingest_rate_per_sec: 1, ingest_burst: 1 } } as any);
    const a1 = limits.enter('a', 'request');
    limits.enter('a', 'request');
    expect(() => limits.enter('a', 'request')).toThrow(/2 requests in progress/);
    limits.enter('b', 'request');
    a1();
    a1(); // ending twice frees one slot, not two
    limits.enter('a', 'request');
    expect(() => limits.enter('a', 'request')).toThrow();
  });
});
