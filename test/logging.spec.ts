import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import request from 'supertest';
import { AppLogger } from '../src/common/logger';
import { INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS } from '../src/grpc/grpc.server';
import { ADMIN_KEY, drivers, RunningApp, startApp, TestStore } from './support/harness';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const WRONG_KEY = 'lim_00000000000000bb_' + 'b'.repeat(64);

type Line = Record<string, unknown>;

/** An AppLogger writing JSON lines into memory, as the service writes them to stdout. */
function capturedLogger(level = 'info'): { logger: AppLogger; lines: () => Line[]; text: () => string } {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return {
    logger: new AppLogger(level, sink, 'json'),
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Line),
  };
}

/** A line appears once its answer is done: the access log is written after the last byte. */
async function linesOf(capture: ReturnType<typeof capturedLogger>, requestId: string, wanted = 1): Promise<Line[]> {
  for (let i = 0; i < 100; i++) {
    const found = capture.lines().filter((l) => l.request_id === requestId);
    if (found.length >= wanted) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return capture.lines().filter((l) => l.request_id === requestId);
}

function grpcClient(address: string) {
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS)) as any;
  return new loaded.llm_incident_manager.v1.IncidentService(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
}

/** One unary call; answers its error (or null), initial metadata and trailing metadata. */
function callWith(client: Record<string, any>, method: string, body: object, entries: Record<string, string>) {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return new Promise<{ err: grpc.ServiceError | null; initial?: grpc.Metadata; trailing?: grpc.Metadata }>((resolve) => {
    let initial: grpc.Metadata | undefined;
    let trailing: grpc.Metadata | undefined;
    const call = client[method](body, metadata, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null) => {
      // The callback may run before 'status' is emitted: wait a turn for it.
      setImmediate(() => resolve({ err, initial, trailing: trailing ?? err?.metadata }));
    }) as grpc.ClientUnaryCall;
    call.on('metadata', (m: grpc.Metadata) => (initial = m));
    call.on('status', (s: grpc.StatusObject) => (trailing = s.metadata));
  });
}

/** Raw bytes to the HTTP port and the raw answer: for requests the HTTP parser refuses. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('end', () => {
      socket.destroy();
      resolve(answer);
    });
    socket.on('error', reject);
  });
}

describe.each(drivers())('request ids and the access log (%s)', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  let capture: ReturnType<typeof capturedLogger>;
  let client: grpc.Client & Record<string, any>;

  beforeAll(async () => {
    store = await TestStore.create(driver);
    capture = capturedLogger();
    running = await startApp(store, { logger: capture.logger, grpc: true });
    client = grpcClient(running.grpcAddress);
  });
  afterAll(async () => {
    client.close();
    await running.close();
    await store.destroy();
  });

  it('answers with the caller’s X-Request-Id, in the header and in the error envelope', async () => {
    const res = await running.http.get('/v1/incidents/00000000-0000-4000-8000-000000000000').set('x-request-id', 'caller-req.1:a_b');
    expect(res.status).toBe(404);
    expect(res.headers['x-request-id']).toBe('caller-req.1:a_b');
    // The envelope's other fields are as before; request_id is added inside `error`.
    expect(res.body).toEqual({
      error: { code: 'INCIDENT_NOT_FOUND', message: expect.any(String), status: 404, details: expect.any(Object), request_id: 'caller-req.1:a_b' },
    });
  });

  it('makes a new id when none is sent, or when the one sent is not acceptable', async () => {
    const first = await running.http.get('/v1/incidents');
    const second = await running.http.get('/v1/incidents');
    expect(first.status).toBe(200);
    expect(first.headers['x-request-id']).toMatch(UUID);
    expect(second.headers['x-request-id']).toMatch(UUID);
    expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
    for (const refused of ['has spaces', 'a'.repeat(129), 'semi;colon', 'ünï']) {
      const res = await running.http.get('/v1/incidents/none').set('x-request-id', refused);
      expect(res.headers['x-request-id']).toMatch(UUID);
      expect(res.body.error.request_id).toBe(res.headers['x-request-id']);
    }
    const longest = 'a'.repeat(128);
    expect((await running.http.get('/v1/incidents').set('x-request-id', longest)).headers['x-request-id']).toBe(longest);
  });

  it('tags the guard’s log line with the request id, and writes one access line without the key', async () => {
    const res = await request(running.app.getHttpServer())
      .get('/v1/incidents?page=1&token=query-s3cret')
      .set('authorization', `Bearer ${WRONG_KEY}`)
      .set('x-request-id', 'auth-fail-1');
    expect(res.status).toBe(401);
    expect(res.body.error.request_id).toBe('auth-fail-1');
    const lines = await linesOf(capture, 'auth-fail-1', 2);
    expect(lines.find((l) => l.msg === 'authentication failed')).toMatchObject({ context: 'Auth', level: 40, route: 'GET /v1/incidents' });
    const access = lines.filter((l) => l.context === 'Access');
    expect(access).toHaveLength(1);
    expect(access[0]).toEqual(
      expect.objectContaining({ msg: 'request completed', method: 'GET', route: '/v1/incidents', status: 401, remote: '127.0.0.1', request_id: 'auth-fail-1' }),
    );
    expect(typeof access[0].duration_ms).toBe('number');
    expect(capture.text()).not.toContain(WRONG_KEY.slice(21));
    expect(capture.text()).not.toContain('query-s3cret');
  });

  it('tags the lines a service writes on the request’s behalf: a key created and revoked', async () => {
    const created = await running.http
      .post('/v1/api-keys')
      .set('x-request-id', 'key-create-1')
      .send({ name: 'logged', scopes: ['incidents:read'] });
    expect(created.status).toBe(201);
    expect((await linesOf(capture, 'key-create-1', 2)).find((l) => l.msg === 'API key created')).toMatchObject({
      context: 'ApiKeys',
      api_key_name: 'logged',
    });
    await running.http.post(`/v1/api-keys/${created.body.id}/revoke`).set('x-request-id', 'key-revoke-1').expect(200);
    expect((await linesOf(capture, 'key-revoke-1', 2)).find((l) => l.msg === 'API key revoked')).toMatchObject({ key_id: created.body.id });
    expect(capture.text()).not.toContain(created.body.key.slice(21));
  });

  it('writes exactly one access line per request, with the route pattern', async () => {
    for (let i = 0; i < 3; i++) await running.http.get('/health/live').set('x-request-id', `live-${i}`);
    const res = await running.http.get('/v1/incidents/00000000-0000-4000-8000-000000000001/timeline').set('x-request-id', 'pattern-1');
    expect(res.status).toBe(404);
    for (let i = 0; i < 3; i++) {
      const lines = await linesOf(capture, `live-${i}`);
      expect(lines.filter((l) => l.context === 'Access')).toEqual([expect.objectContaining({ route: '/health/live', status: 200 })]);
    }
    // The pattern, not the path with its id in it.
    expect((await linesOf(capture, 'pattern-1')).filter((l) => l.context === 'Access')).toEqual([
      expect.objectContaining({ route: '/v1/incidents/:id/timeline', status: 404 }),
    ]);
  });

  it('gives answers made outside the handlers the id: an unknown route, a bad URL', async () => {
    const unknown = await running.anon.get('/no/such/route').set('x-request-id', 'unknown-route');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-request-id']).toBe('unknown-route');
    expect(unknown.body.error).toMatchObject({ code: 'NOT_FOUND', status: 404, request_id: 'unknown-route' });
    expect((await linesOf(capture, 'unknown-route')).filter((l) => l.context === 'Access')).toEqual([expect.objectContaining({ route: null, status: 404 })]);

    const badUrl = await running.anon.get('/v1/incidents/%zz').set('x-request-id', 'bad-url');
    expect(badUrl.status).toBe(400);
    expect(badUrl.headers['x-request-id']).toBe('bad-url');
    expect(badUrl.body.error).toMatchObject({ code: 'INVALID_URL', request_id: 'bad-url' });
  });

  it('gives an answer to broken HTTP a new id, in the header and the envelope', async () => {
    const port = (running.app.getHttpServer().address() as { port: number }).port;
    const answer = await rawExchange(port, 'GARBAGE / HTTP/1.1\r\n\r\n');
    const header = /\r\nx-request-id: (\S+)\r\n/i.exec(answer)?.[1];
    expect(header).toMatch(UUID);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: Record<string, unknown> };
    expect(body.error).toEqual({ code: 'BAD_REQUEST', message: 'malformed HTTP request', status: 400, details: {}, request_id: header });
  });

  it('gRPC: answers the caller’s id in the metadata, and tags the call’s log lines with it', async () => {
    const refused = await callWith(client, 'ListIncidents', {}, { authorization: `Bearer ${WRONG_KEY}`, 'x-request-id': 'grpc-auth-1' });
    expect(refused.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(refused.trailing?.get('x-request-id')).toEqual(['grpc-auth-1']);
    const lines = await linesOf(capture, 'grpc-auth-1', 2);
    expect(lines.find((l) => l.msg === 'authentication failed')).toMatchObject({ context: 'Auth', transport: 'grpc' });
    expect(lines.filter((l) => l.context === 'Access')).toEqual([
      expect.objectContaining({
        msg: 'call completed',
        transport: 'grpc',
        method: '/llm_incident_manager.v1.IncidentService/ListIncidents',
        status: 'UNAUTHENTICATED',
      }),
    ]);
    expect(capture.text()).not.toContain(WRONG_KEY.slice(21));

    const listed = await callWith(client, 'ListIncidents', {}, { authorization: `Bearer ${ADMIN_KEY}`, 'x-request-id': 'grpc-ok-1' });
    expect(listed.err).toBeNull();
    expect(listed.initial?.get('x-request-id')).toEqual(['grpc-ok-1']);
    expect((await linesOf(capture, 'grpc-ok-1')).filter((l) => l.context === 'Access')).toEqual([expect.objectContaining({ status: 'OK' })]);

    const fresh = await callWith(client, 'ListIncidents', {}, { authorization: `Bearer ${ADMIN_KEY}`, 'x-request-id': 'not acceptable' });
    const id = fresh.initial?.get('x-request-id')[0];
    expect(id).toMatch(UUID);
    expect(await linesOf(capture, id as string)).toHaveLength(1);
  });
});

describe.each(drivers())('the access log switched off, and its own level (%s)', (driver) => {
  let store: TestStore;
  beforeAll(async () => (store = await TestStore.create(driver)));
  afterAll(() => store.destroy());

  it('writes no access line with [server] access_log = false; other lines keep their request id', async () => {
    const capture = capturedLogger();
    const running = await startApp(store, { logger: capture.logger, grpc: true, overrides: { server: { access_log: false } } });
    const client = grpcClient(running.grpcAddress);
    try {
      const res = await request(running.app.getHttpServer()).get('/v1/incidents').set('authorization', `Bearer ${WRONG_KEY}`).set('x-request-id', 'off-1');
      expect(res.headers['x-request-id']).toBe('off-1');
      await running.http.get('/health/live');
      const grpcCall = await callWith(client, 'ListIncidents', {}, { authorization: `Bearer ${ADMIN_KEY}`, 'x-request-id': 'off-grpc' });
      expect(grpcCall.initial?.get('x-request-id')).toEqual(['off-grpc']);
      const refusal = await linesOf(capture, 'off-1');
      expect(refusal).toEqual([expect.objectContaining({ msg: 'authentication failed' })]);
      expect(capture.lines().filter((l) => l.context === 'Access')).toEqual([]);
    } finally {
      client.close();
      await running.close();
    }
  });

  it('writes access lines at LOG_LEVEL=warn, where info lines are not written', async () => {
    const capture = capturedLogger('warn');
    const running = await startApp(store, { logger: capture.logger });
    try {
      await running.http.get('/health/live').set('x-request-id', 'warn-level');
      expect((await linesOf(capture, 'warn-level')).filter((l) => l.context === 'Access')).toHaveLength(1);
      expect(capture.lines().filter((l) => l.level === 30 && l.context !== 'Access')).toEqual([]);
    } finally {
      await running.close();
    }
  });
});
