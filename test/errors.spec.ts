import { Agent, request as httpRequest } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { ADMIN_KEY, alert, drivers, RunningApp, startApp, TestStore } from './support/harness';

/**
 * Every bad request gets the one envelope {"error": {code, message, status, details, request_id}} with a
 * 4xx status, never a 500; validation errors name each offending field.
 */
describe.each(drivers())('error envelope on %s', (driver) => {
  let store: TestStore;
  let running: RunningApp;
  let incidentId: string;

  beforeAll(async () => {
    store = await TestStore.create(driver);
    running = await startApp(store, { overrides: { server: { body_limit_bytes: 65536 } } });
    incidentId = (await running.http.post('/v1/alerts').send(alert()).expect(200)).body.incident_id;
  });
  afterAll(async () => {
    await running.close();
    await store.destroy();
  });

  type Case = {
    name: string;
    method: 'get' | 'post' | 'patch';
    path: string | (() => string);
    body?: unknown;
    raw?: string;
    contentType?: string;
    status: number;
    code: string;
    field?: string;
  };

  const cases: Case[] = [
    {
      name: 'malformed JSON',
      method: 'post',
      path: '/v1/alerts',
      raw: '{"source": "x",',
      contentType: 'application/json',
      status: 400,
      code: 'MALFORMED_JSON',
      field: 'body',
    },
    {
      name: 'empty JSON body',
      method: 'post',
      path: '/v1/alerts',
      raw: '',
      contentType: 'application/json',
      status: 400,
      code: 'MALFORMED_JSON',
      field: 'body',
    },
    {
      name: 'wrong content type',
      method: 'post',
      path: '/v1/alerts',
      raw: 'source=x',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      field: 'content-type',
    },
    {
      name: 'text/plain body',
      method: 'post',
      path: '/v1/alerts',
      raw: 'hello',
      contentType: 'text/plain',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      field: 'content-type',
    },
    {
      name: 'body too large',
      method: 'post',
      path: '/v1/alerts',
      raw: JSON.stringify(alert({ description: 'x'.repeat(70000) })),
      contentType: 'application/json',
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      field: 'body',
    },
    {
      name: 'body that is a string',
      method: 'post',
      path: '/v1/alerts',
      body: '"alert"',
      raw: '"alert"',
      contentType: 'application/json',
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'body',
    },
    {
      name: 'missing required field',
      method: 'post',
      path: '/v1/alerts',
      body: { ...alert(), title: undefined },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'title',
    },
    { name: 'wrong type', method: 'post', path: '/v1/alerts', body: alert({ title: 42 }), status: 400, code: 'VALIDATION_FAILED', field: 'title' },
    {
      name: 'unknown severity',
      method: 'post',
      path: '/v1/alerts',
      body: alert({ severity: 'P5' }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'severity',
    },
    {
      name: 'unknown alert_type',
      method: 'post',
      path: '/v1/alerts',
      body: alert({ alert_type: 'Network' }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'alert_type',
    },
    { name: 'unknown field', method: 'post', path: '/v1/alerts', body: alert({ priority: 'high' }), status: 400, code: 'VALIDATION_FAILED', field: 'priority' },
    {
      name: 'labels with a non-string value',
      method: 'post',
      path: '/v1/alerts',
      body: alert({ labels: { a: { b: 1 } } }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'labels',
    },
    {
      name: 'affected_services not an array',
      method: 'post',
      path: '/v1/alerts',
      body: alert({ affected_services: 'api' }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'affected_services',
    },
    {
      name: 'runbook_url not a URL',
      method: 'post',
      path: '/v1/alerts',
      body: alert({ runbook_url: 'not a url' }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'runbook_url',
    },
    {
      name: 'invalid alert in a batch',
      method: 'post',
      path: '/v1/alerts',
      body: [alert(), alert({ severity: 'high' })],
      status: 400,
      code: 'VALIDATION_FAILED',
      field: '[1].severity',
    },
    {
      name: 'create with unknown incident_type',
      method: 'post',
      path: '/v1/incidents',
      body: { title: 't', description: 'd', severity: 'P1', incident_type: 'Weird', source: 's' },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'incident_type',
    },
    { name: 'create with an array body', method: 'post', path: '/v1/incidents', body: [{ title: 't' }], status: 400, code: 'VALIDATION_FAILED', field: 'body' },
    { name: 'bad UUID in path', method: 'get', path: '/v1/incidents/not-a-uuid', status: 400, code: 'VALIDATION_FAILED', field: 'id' },
    { name: 'bad UUID in a nested path', method: 'get', path: '/v1/incidents/1234/alerts', status: 400, code: 'VALIDATION_FAILED', field: 'id' },
    { name: 'unknown route', method: 'get', path: '/v1/nothing-here', status: 404, code: 'NOT_FOUND' },
    { name: 'unknown state filter', method: 'get', path: '/v1/incidents?state=Sleeping', status: 400, code: 'VALIDATION_FAILED', field: 'state' },
    { name: 'page not a number', method: 'get', path: '/v1/incidents?page=abc', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'page_size over the limit', method: 'get', path: '/v1/incidents?page_size=100000', status: 400, code: 'VALIDATION_FAILED', field: 'page_size' },
    { name: 'active_only not a boolean', method: 'get', path: '/v1/incidents?active_only=maybe', status: 400, code: 'VALIDATION_FAILED', field: 'active_only' },
    { name: 'unknown query parameter', method: 'get', path: '/v1/incidents?colour=red', status: 400, code: 'VALIDATION_FAILED', field: 'colour' },
    {
      name: 'transition to an unknown state',
      method: 'post',
      path: () => `/v1/incidents/${incidentId}/transition`,
      body: { state: 'Done', actor: 'a' },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'state',
    },
    {
      name: 'transition without actor',
      method: 'post',
      path: () => `/v1/incidents/${incidentId}/transition`,
      body: { state: 'Triaged' },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'actor',
    },
    {
      name: 'nested resolution with an unknown method',
      method: 'post',
      path: () => `/v1/incidents/${incidentId}/transition`,
      body: { state: 'Resolved', actor: 'a', resolution: { resolved_by: 'a', method: 'Magic', notes: 'n' } },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'resolution.method',
    },
    {
      name: 'resolve with an unknown method',
      method: 'post',
      path: () => `/v1/incidents/${incidentId}/resolve`,
      body: { resolved_by: 'a', method: 'Magic', notes: 'n' },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'method',
    },
    {
      name: 'patch severity of wrong type',
      method: 'patch',
      path: () => `/v1/incidents/${incidentId}`,
      body: { severity: 0 },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'severity',
    },
    {
      name: 'NUL character in a string',
      method: 'post',
      path: '/v1/alerts',
      body: alert({ title: 'a\u0000b' }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'title',
    },
    {
      name: 'NUL character in a batch label',
      method: 'post',
      path: '/v1/alerts',
      body: [alert(), alert({ labels: { k: '\u0000' } })],
      status: 400,
      code: 'VALIDATION_FAILED',
      field: '[1].labels.k',
    },
    // Found by the fuzzer: each was a 500.
    {
      name: 'a lone surrogate in a string',
      method: 'post',
      path: () => `/v1/incidents/${incidentId}/notifications`,
      body: { message: 'm', channels: [{ type: 'email', to: ['\ud800@example.com'], subject: 's' }] },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'channels[0].to[0]',
    },
    {
      name: 'null title in a PATCH',
      method: 'patch',
      path: () => `/v1/incidents/${incidentId}`,
      body: { title: null },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'title',
    },
    {
      name: 'null labels in a PATCH',
      method: 'patch',
      path: () => `/v1/incidents/${incidentId}`,
      body: { labels: null },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'labels',
    },
    { name: 'NUL character in a query filter', method: 'get', path: '/v1/incidents?source=%00', status: 400, code: 'VALIDATION_FAILED', field: 'source' },
    {
      name: 'JSON nested too deeply',
      method: 'post',
      path: '/v1/alerts',
      raw: JSON.stringify(alert({ labels: null })).replace('null', '['.repeat(20) + ']'.repeat(20)),
      contentType: 'application/json',
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'labels[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]',
    },
    {
      name: 'JSON nested far too deeply (refused before parsing)',
      method: 'post',
      path: '/v1/alerts',
      raw: JSON.stringify(alert({ labels: null })).replace('null', '['.repeat(5000) + ']'.repeat(5000)),
      contentType: 'application/json',
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'body',
    },
    { name: 'a huge page number', method: 'get', path: '/v1/incidents?page=1000000000000000000', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    {
      name: 'resolution given as an array',
      method: 'post',
      path: () => `/v1/incidents/${incidentId}/transition`,
      body: { state: 'Resolved', actor: 'a', resolution: [] },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'resolution',
    },
    { name: 'a bad %-escape in the path', method: 'get', path: '/v1/incidents/%E0%A4', status: 400, code: 'INVALID_URL', field: 'path' },
    { name: 'an over-long path parameter', method: 'get', path: `/v1/incidents/${'a'.repeat(150)}`, status: 414, code: 'URI_TOO_LONG', field: 'path' },
    {
      name: 'note without content',
      method: 'post',
      path: () => `/v1/incidents/${incidentId}/notes`,
      body: { author: 'a' },
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'content',
    },
  ];

  it.each(cases)('$name -> $status $code', async (c) => {
    const path = typeof c.path === 'function' ? c.path() : c.path;
    let req = running.http[c.method](path);
    if (c.raw !== undefined) req = req.set('content-type', c.contentType ?? 'application/json').send(c.raw);
    else if (c.body !== undefined) req = req.send(c.body as object);
    const res = await req;
    expect(res.status).toBe(c.status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body)).toEqual(['error']);
    expect(res.body.error).toEqual({
      code: c.code,
      message: expect.any(String),
      status: c.status,
      details: expect.any(Object),
      request_id: res.headers['x-request-id'],
    });
    expect(JSON.stringify(res.body)).not.toMatch(/at .+\.(ts|js):\d+/); // no stack trace
    if (c.field) expect(res.body.error.details.fields.map((f: { field: string }) => f.field)).toContain(c.field);
  });

  async function rawExchange(request: string): Promise<{ status: number; body: any }> {
    const address = running.app.getHttpServer().address() as { port: number };
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(address.port, '127.0.0.1', () => socket.end(request));
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    const [head, body] = text.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), body: JSON.parse(body) };
  }

  it.each([
    ['broken HTTP', 'NOT HTTP AT ALL\r\n\r\n', 400, 'BAD_REQUEST'],
    ['oversized headers', `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
  ])('answers %s in the envelope', async (_name, request, status, code) => {
    const res = await rawExchange(request);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: { code, message: expect.any(String), status, details: {}, request_id: expect.any(String) } });
  });

  it('stored nothing from any of the bad requests', async () => {
    const list = (await running.http.get('/v1/incidents').expect(200)).body;
    expect(list.total).toBe(1);
    expect(list.items[0]).toMatchObject({ alert_count: 1, state: 'Detected', severity: 'P2' });
  });
});

describe('HEAD', () => {
  let store: TestStore;
  let running: RunningApp;

  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    running = await startApp(store);
  });
  afterAll(async () => {
    await running.close();
    await store.destroy();
  });

  interface HeadAnswer {
    status: number;
    bodyBytes: number;
    reusedSocket: boolean;
    connection?: string;
  }

  /** One HEAD through Node's HTTP client; rejects if the client cannot parse the answer. */
  function head(agent: Agent, path: string, headers: Record<string, string> = {}): Promise<HeadAnswer> {
    const { port } = running.app.getHttpServer().address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path, method: 'HEAD', agent, headers: { authorization: `Bearer ${ADMIN_KEY}`, ...headers } },
        (res) => {
          let bodyBytes = 0;
          res.on('data', (d: Buffer) => (bodyBytes += d.length));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, bodyBytes, reusedSocket: req.reusedSocket, connection: res.headers.connection }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('answers every route, error paths included, without a body, and keeps the connection usable', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    // The socket's own parse errors ("Data after `Connection: close`") surface here, not on a request.
    const socketErrors: Error[] = [];
    agent.on('free', (socket: Socket) => socket.listeners('error').length === 0 && socket.on('error', (e) => socketErrors.push(e)));
    const cases: Array<[string, Record<string, string>, number]> = [
      ['/health/live', {}, 200],
      ['/v1/incidents', {}, 200],
      ['/v1/incidents/not-a-uuid', {}, 400],
      ['/v1/incidents/00000000-0000-4000-8000-000000000000', {}, 404],
      ['/v1/incidents?page=abc', {}, 400],
      ['/no/such/route', {}, 404],
      ['/%zz', {}, 400],
      [`/v1/incidents/${'a'.repeat(1000)}`, {}, 414],
      ['/docs/openapi.json', {}, 200],
      ['/health/ready', { 'x-big': 'a'.repeat(20000) }, 431],
      ['/health/live', {}, 200],
    ];
    const answers: HeadAnswer[] = [];
    for (const [path, headers, status] of cases) {
      const answer = await head(agent, path, headers);
      expect({ path, status: answer.status, bodyBytes: answer.bodyBytes }).toEqual({ path, status, bodyBytes: 0 });
      answers.push(answer);
    }
    // Every answer before the refused headers came over the first connection.
    expect(answers.slice(1, 9).every((a) => a.reusedSocket)).toBe(true);
    expect(answers[9].connection).toBe('close');
    expect(socketErrors).toEqual([]);
    agent.destroy();
  });
});
