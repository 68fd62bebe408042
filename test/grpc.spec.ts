import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { FileDescriptorProto } from 'protobufjs/ext/descriptor';
import { HEALTH_PROTO, INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS } from '../src/grpc/grpc.server';
import { IncidentEventStream } from '../src/incidents/incident-event-stream';
import { WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { ADMIN_KEY, alert, drivers, grpcKeyInterceptor, RunningApp, startApp, TestStore } from './support/harness';

const REFLECTION_PROTO = join(__dirname, '..', 'node_modules', '@grpc', 'reflection', 'build', 'proto', 'grpc', 'reflection', 'v1alpha', 'reflection.proto');

/** Clients built from the proto files, as any user of the contract would. */
function clientsFor(address: string, key: string | null = ADMIN_KEY) {
  const definition = protoLoader.loadSync([INCIDENT_MANAGER_PROTO, HEALTH_PROTO, REFLECTION_PROTO], PROTO_LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const credentials = grpc.credentials.createInsecure();
  const v1 = loaded.llm_incident_manager.v1;
  const options = key === null ? {} : { interceptors: [grpcKeyInterceptor(key)] };
  return {
    alerts: new v1.AlertIngestion(address, credentials, options) as grpc.Client & Record<string, any>,
    incidents: new v1.IncidentService(address, credentials, options) as grpc.Client & Record<string, any>,
    health: new loaded.grpc.health.v1.Health(address, credentials) as grpc.Client & Record<string, any>,
    reflection: new loaded.grpc.reflection.v1alpha.ServerReflection(address, credentials) as grpc.Client & Record<string, any>,
    close() {
      for (const client of [this.alerts, this.incidents, this.health, this.reflection]) client.close();
    },
  };
}

type Clients = ReturnType<typeof clientsFor>;

function unary<T = any>(client: Record<string, any>, method: string, request: object, deadlineMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, response: T) => (err ? reject(err) : resolve(response)));
  });
}

async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

const protoAlert = (overrides: Record<string, unknown> = {}) => ({
  source: 'prometheus',
  title: 'High error rate on api-gateway',
  description: '5xx ratio above 5% for 5 minutes',
  severity: 'P2',
  alert_type: 'APPLICATION',
  affected_services: ['api-gateway'],
  labels: { env: 'prod' },
  ...overrides,
});

const newIncident = (overrides: Record<string, unknown> = {}) => ({
  title: 'Checkout is down',
  description: 'All checkout requests fail',
  severity: 'P1',
  incident_type: 'AVAILABILITY',
  source: 'grpc-test',
  affected_resources: ['checkout'],
  labels: { team: 'payments' },
  ...overrides,
});

/** Collects a server stream's messages until `count` arrived. */
function collect(stream: grpc.ClientReadableStream<any>, count: number, ms = 10_000): Promise<any[]> {
  const messages: any[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${messages.length} of ${count} messages`)), ms);
    stream.on('data', (message) => {
      messages.push(message);
      if (messages.length === count) {
        clearTimeout(timer);
        resolve(messages);
      }
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) reject(err);
    });
  });
}

async function waitUntil(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(drivers())('gRPC on %s', (driver) => {
  let store: TestStore;
  let app: RunningApp;
  let clients: Clients;

  beforeEach(async () => {
    store = await TestStore.create(driver);
    app = await startApp(store, { grpc: true });
    clients = clientsFor(app.grpcAddress);
  });
  afterEach(async () => {
    clients.close();
    await app.close();
    await store.destroy();
  });

  it('ingests alerts one at a time and in batches, with the REST answers', async () => {
    const first = await unary(clients.alerts, 'SubmitAlert', { alert: protoAlert({ severity: 'P1' }) });
    expect(first).toMatchObject({ status: 'ACCEPTED', message: 'new incident opened' });
    const again = await unary(clients.alerts, 'SubmitAlert', { alert: protoAlert({ severity: 'P0' }) });
    expect(again).toMatchObject({ status: 'DUPLICATE', incident_id: first.incident_id });
    const batch = await unary(clients.alerts, 'SubmitAlerts', { alerts: [protoAlert({ title: 'other' }), protoAlert({ title: 'other' })] });
    expect(batch.acks.map((a: any) => [a.status, a.index])).toEqual([
      ['ACCEPTED', 0],
      ['DUPLICATE', 1],
    ]);
    const rest = (await app.http.get(`/v1/incidents/${first.incident_id}`).expect(200)).body;
    expect(rest).toMatchObject({ severity: 'P0', alert_count: 2, incident_type: 'Application', labels: { env: 'prod' } });
  });

  it('serves every IncidentService call', async () => {
    const created = await unary(clients.incidents, 'CreateIncident', newIncident());
    expect(created).toMatchObject({ title: 'Checkout is down', severity: 'P1', state: 'DETECTED', incident_type: 'AVAILABILITY', alert_count: 1 });
    expect(created.created_at.seconds).toBeGreaterThan(1_700_000_000);
    const id = created.id;

    const updated = await unary(clients.incidents, 'UpdateIncident', {
      id,
      severity: 'P0',
      assignees: { values: ['alice'] },
      labels: { values: { team: 'core' } },
    });
    expect(updated).toMatchObject({ severity: 'P0', assignees: ['alice'], labels: { team: 'core' }, title: 'Checkout is down' });
    const cleared = await unary(clients.incidents, 'UpdateIncident', { id, assignees: { values: [] } });
    expect(cleared.assignees ?? []).toEqual([]);
    expect(cleared.severity).toBe('P0');

    await unary(clients.incidents, 'TransitionIncident', { id, state: 'INVESTIGATING', actor: 'alice', note: 'looking' });
    const note = await unary(clients.incidents, 'AddNote', { id, author: 'bob', content: 'rolled back' });
    expect(note).toMatchObject({ author: 'bob', content: 'rolled back' });
    const resolved = await unary(clients.incidents, 'ResolveIncident', {
      id,
      resolved_by: 'alice',
      method: 'MANUAL',
      notes: 'fixed',
      root_cause: 'bad deploy',
    });
    expect(resolved).toMatchObject({ state: 'RESOLVED', resolution: { resolved_by: 'alice', method: 'MANUAL', root_cause: 'bad deploy' } });
    expect(resolved.resolved_at.seconds).toBeGreaterThan(0);
    const closed = await unary(clients.incidents, 'CloseIncident', { id, actor: 'alice' });
    expect(closed.state).toBe('CLOSED');

    const detail = await unary(clients.incidents, 'GetIncident', { id });
    expect(detail.incident.id).toBe(id);
    expect(detail.notes.map((n: any) => n.content)).toEqual(['rolled back']);
    expect(detail.timeline.map((t: any) => t.event_type)).toContain('state_changed');
    expect(typeof JSON.parse(detail.timeline[0].metadata)).toBe('object');

    await unary(clients.incidents, 'CreateIncident', newIncident({ title: 'Second', severity: 'P3', source: 'other' }));
    const page = await unary(clients.incidents, 'ListIncidents', { severity: ['P3'], page_size: 10 });
    expect(page).toMatchObject({ total: 1, page: 1, page_size: 10 });
    expect(page.items[0].title).toBe('Second');
    const closedOnes = await unary(clients.incidents, 'ListIncidents', { state: ['CLOSED'] });
    expect(closedOnes.items.map((i: any) => i.id)).toEqual([id]);
    const active = await unary(clients.incidents, 'ListIncidents', { active_only: true });
    expect(active.total).toBe(1);
  });

  it('acknowledges an incident with AcknowledgeIncident, as REST does, and refuses a second one with FAILED_PRECONDITION', async () => {
    const created = await unary(clients.incidents, 'CreateIncident', newIncident({ title: 'To acknowledge' }));
    const acked = await unary(clients.incidents, 'AcknowledgeIncident', { id: created.id, actor: 'grace', note: 'on it' });
    expect(acked).toMatchObject({ state: 'TRIAGED', acknowledged_by: 'grace' });
    expect(acked.acknowledged_at).toBeDefined();
    const again = await failure(unary(clients.incidents, 'AcknowledgeIncident', { id: created.id }));
    expect(again.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(again.details).toContain('already acknowledged by grace');
    expect((await failure(unary(clients.incidents, 'AcknowledgeIncident', { id: 'not-a-uuid' }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    const timeline = (await app.http.get(`/v1/incidents/${created.id}/timeline`).expect(200)).body;
    expect(timeline.find((e: any) => e.event_type === 'acknowledged')).toMatchObject({ actor: 'grace', api_key_name: expect.any(String) });
  });

  it('answers bad input with INVALID_ARGUMENT naming the field, and domain errors with their codes', async () => {
    const existing = await unary(clients.incidents, 'CreateIncident', newIncident());
    const unknownId = '0190a000-0000-7000-8000-000000000000';
    const cases: Array<[Record<string, any>, string, object, grpc.status, string]> = [
      [clients.alerts, 'SubmitAlert', {}, grpc.status.INVALID_ARGUMENT, 'alert'],
      [clients.alerts, 'SubmitAlert', { alert: protoAlert({ severity: undefined }) }, grpc.status.INVALID_ARGUMENT, 'alert.severity'],
      [clients.alerts, 'SubmitAlert', { alert: protoAlert({ severity: 42 }) }, grpc.status.INVALID_ARGUMENT, 'alert.severity'],
      [clients.alerts, 'SubmitAlert', { alert: protoAlert({ title: '' }) }, grpc.status.INVALID_ARGUMENT, 'alert.title'],
      [clients.alerts, 'SubmitAlert', { alert: protoAlert({ runbook_url: 'not a url' }) }, grpc.status.INVALID_ARGUMENT, 'alert.runbook_url'],
      [clients.alerts, 'SubmitAlerts', { alerts: [] }, grpc.status.INVALID_ARGUMENT, 'alerts'],
      [clients.alerts, 'SubmitAlerts', { alerts: [protoAlert(), protoAlert({ title: 'x'.repeat(501) })] }, grpc.status.INVALID_ARGUMENT, 'alerts[1].title'],
      [clients.incidents, 'CreateIncident', newIncident({ title: undefined }), grpc.status.INVALID_ARGUMENT, 'title'],
      [clients.incidents, 'CreateIncident', newIncident({ incident_type: 'INCIDENT_TYPE_UNSPECIFIED' }), grpc.status.INVALID_ARGUMENT, 'incident_type'],
      [clients.incidents, 'CreateIncident', newIncident(), grpc.status.ALREADY_EXISTS, existing.id],
      [clients.incidents, 'GetIncident', { id: 'nope' }, grpc.status.INVALID_ARGUMENT, 'id'],
      [clients.incidents, 'GetIncident', { id: unknownId }, grpc.status.NOT_FOUND, unknownId],
      [clients.incidents, 'ListIncidents', { page_size: 1000 }, grpc.status.INVALID_ARGUMENT, 'page_size'],
      [clients.incidents, 'ListIncidents', { state: [77] }, grpc.status.INVALID_ARGUMENT, 'state'],
      [clients.incidents, 'UpdateIncident', { id: existing.id, title: '' }, grpc.status.INVALID_ARGUMENT, 'title'],
      [clients.incidents, 'TransitionIncident', { id: existing.id, state: 'CLOSED', actor: 'a' }, grpc.status.FAILED_PRECONDITION, 'Closed'],
      [clients.incidents, 'TransitionIncident', { id: existing.id, state: 'RESOLVED', actor: 'a' }, grpc.status.INVALID_ARGUMENT, 'resolution'],
      [clients.incidents, 'TransitionIncident', { id: existing.id, actor: 'a' }, grpc.status.INVALID_ARGUMENT, 'state'],
      [clients.incidents, 'ResolveIncident', { id: existing.id, resolved_by: 'a', notes: 'n' }, grpc.status.INVALID_ARGUMENT, 'method'],
      [clients.incidents, 'CloseIncident', { id: existing.id }, grpc.status.FAILED_PRECONDITION, 'Detected'],
      // Found by the fuzzer: PostgreSQL cannot store NUL, and the write failed with INTERNAL.
      [clients.incidents, 'CloseIncident', { id: existing.id, actor: 'a\u0000b' }, grpc.status.INVALID_ARGUMENT, 'actor'],
      [clients.alerts, 'SubmitAlert', { alert: protoAlert({ title: 'a\u0000b' }) }, grpc.status.INVALID_ARGUMENT, 'alert.title'],
      [clients.alerts, 'SubmitAlert', { alert: protoAlert({ labels: { 'ключ\u0000': 'v' } }) }, grpc.status.INVALID_ARGUMENT, 'alert.labels'],
      [clients.incidents, 'AddNote', { id: unknownId, author: 'a', content: 'c' }, grpc.status.NOT_FOUND, unknownId],
      [clients.incidents, 'AddNote', { id: existing.id, author: 'a' }, grpc.status.INVALID_ARGUMENT, 'content'],
    ];
    for (const [client, method, request, code, mention] of cases) {
      const err = await failure(unary(client, method, request));
      expect({ method, request, code: err.code }).toEqual({ method, request, code });
      expect(err.details).toContain(mention);
    }
    await unary(clients.incidents, 'ResolveIncident', { id: existing.id, resolved_by: 'a', method: 'MANUAL', notes: 'n' });
    const twice = await failure(unary(clients.incidents, 'ResolveIncident', { id: existing.id, resolved_by: 'a', method: 'MANUAL', notes: 'n' }));
    expect(twice.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(twice.metadata.get('error-code')).toEqual(['ALREADY_RESOLVED']);
    const invalid = await failure(unary(clients.alerts, 'SubmitAlert', { alert: protoAlert({ severity: undefined, title: '' }) }));
    expect(invalid.metadata.get('error-fields')).toEqual(['alert.title,alert.severity']);
    // Allowed values are given as the proto names a gRPC client sends.
    const badState = await failure(unary(clients.incidents, 'TransitionIncident', { id: existing.id, actor: 'a', state: 'INCIDENT_STATE_UNSPECIFIED' }));
    expect(badState.details).toContain('DETECTED, TRIAGED, INVESTIGATING, REMEDIATING, RESOLVED, CLOSED');
  });

  it('streams lifecycle events from gRPC and REST changes alike, in order, to each subscriber, and lets go of a client that leaves', async () => {
    const events = app.app.get(IncidentEventStream);
    const p1 = clients.incidents.StreamIncidents({ severity: ['P1'] }) as grpc.ClientReadableStream<any>;
    const all = clients.incidents.StreamIncidents({}) as grpc.ClientReadableStream<any>;
    await waitUntil(() => events.subscriberCount() === 2);
    const onlyP1 = collect(p1, 3);
    const everything = collect(all, 4);

    await unary(clients.incidents, 'CreateIncident', newIncident({ severity: 'P3', title: 'not P1' }));
    const created = await unary(clients.incidents, 'CreateIncident', newIncident());
    await app.http.post(`/v1/incidents/${created.id}/transition`).send({ state: 'Triaged', actor: 'alice' }).expect(200);
    await app.http.post(`/v1/incidents/${created.id}/resolve`).send({ resolved_by: 'alice', method: 'Manual', notes: 'done' }).expect(200);

    const seen = await onlyP1;
    expect(seen.map((e) => [e.event_type, e.incident.id, e.incident.state])).toEqual([
      ['incident.detected', created.id, 'DETECTED'],
      ['incident.triaged', created.id, 'TRIAGED'],
      ['incident.resolved', created.id, 'RESOLVED'],
    ]);
    expect(seen[1].previous_state).toBe('DETECTED');
    expect(seen[1].actor).toBe('alice');
    expect((await everything).map((e) => e.incident.title)).toEqual(['not P1', 'Checkout is down', 'Checkout is down', 'Checkout is down']);

    p1.cancel();
    all.cancel();
    await waitUntil(() => events.subscriberCount() === 0);
  });

  it('acks each streamed alert in order, with duplicates and rejected alerts reported as such', async () => {
    const call = clients.alerts.StreamAlerts() as grpc.ClientDuplexStream<any, any>;
    const acks = collect(call, 4);
    call.write({ alert: protoAlert({ title: 'streamed' }) });
    call.write({ alert: protoAlert({ title: 'streamed' }) });
    call.write({ alert: protoAlert({ title: 'streamed', severity: 'SEVERITY_UNSPECIFIED' }) });
    call.write({ alert: protoAlert({ title: 'another' }) });
    const received = await acks;
    call.end();
    expect(received.map((a) => [a.index, a.status])).toEqual([
      [0, 'ACCEPTED'],
      [1, 'DUPLICATE'],
      [2, 'REJECTED'],
      [3, 'ACCEPTED'],
    ]);
    expect(received[1].incident_id).toBe(received[0].incident_id);
    expect(received[2].error).toContain('alert.severity');
    expect((await app.http.get(`/v1/incidents/${received[0].incident_id}`).expect(200)).body.alert_count).toBe(2);
  });

  it('acks a stream written and half-closed before its key is checked, and refuses one with a bad key without a fault', async () => {
    // A key made now is not in the key cache: the guard's lookup goes to the store while the
    // client's messages and its half-close arrive.
    const created = (
      await app.http
        .post('/v1/api-keys')
        .send({ name: 'fresh-stream', scopes: ['alerts:write'] })
        .expect(201)
    ).body.key as string;
    for (const key of [created, 'lim_00000000000000ee_' + 'e'.repeat(64)]) {
      const fresh = clientsFor(app.grpcAddress, key);
      try {
        const call = fresh.alerts.StreamAlerts() as grpc.ClientDuplexStream<any, any>;
        const outcome = new Promise<{ acks: any[]; code: number }>((resolve) => {
          const acks: any[] = [];
          call.on('data', (ack) => acks.push(ack));
          call.on('status', (status: grpc.StatusObject) => resolve({ acks, code: status.code }));
          call.on('error', () => undefined); // the status says it
        });
        call.write({ alert: protoAlert({ title: `half-closed ${key.slice(4, 20)}` }) });
        call.write({ alert: protoAlert({ title: `half-closed ${key.slice(4, 20)}` }) });
        call.end();
        const { acks, code } = await outcome;
        if (key === created) expect([code, acks.map((a) => a.status)]).toEqual([grpc.status.OK, ['ACCEPTED', 'DUPLICATE']]);
        else expect([code, acks]).toEqual([grpc.status.UNAUTHENTICATED, []]);
      } finally {
        fresh.close();
      }
    }
  });

  it('acks hundreds of streamed alerts in order while ingesting them concurrently', async () => {
    const call = clients.alerts.StreamAlerts() as grpc.ClientDuplexStream<any, any>;
    const acks = collect(call, 300, 30_000);
    for (let i = 0; i < 300; i++) call.write({ alert: protoAlert({ title: `burst ${i % 100}` }) });
    call.end();
    const received = await acks;
    expect(received.map((a) => a.index)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(received.filter((a) => a.status === 'ACCEPTED')).toHaveLength(100);
    expect(received.filter((a) => a.status === 'DUPLICATE')).toHaveLength(200);
  });

  it('tells stream clients to reconnect (UNAVAILABLE) when the server shuts down', async () => {
    const events = clients.incidents.StreamIncidents({}) as grpc.ClientReadableStream<any>;
    const ended = new Promise<grpc.ServiceError>((resolve) => events.on('error', resolve));
    await waitUntil(() => app.app.get(IncidentEventStream).subscriberCount() === 1);
    await app.close();
    expect((await ended).code).toBe(grpc.status.UNAVAILABLE);
    app = await startApp(store, { grpc: true }); // for afterEach
  });

  it('reports health, lists its services by reflection, and honours deadlines', async () => {
    expect(await unary(clients.health, 'Check', {})).toEqual({ status: 'SERVING' });
    expect(await unary(clients.health, 'Check', { service: 'llm_incident_manager.v1.IncidentService' })).toEqual({ status: 'SERVING' });
    expect((await failure(unary(clients.health, 'Check', { service: 'nope' }))).code).toBe(grpc.status.NOT_FOUND);
    const watch = clients.health.Watch({}) as grpc.ClientReadableStream<any>;
    expect(await collect(watch, 1)).toEqual([{ status: 'SERVING' }]);
    watch.cancel();

    const reflection = clients.reflection.ServerReflectionInfo() as grpc.ClientDuplexStream<any, any>;
    const answer = collect(reflection, 1);
    reflection.write({ list_services: '' });
    const [listed] = await answer;
    reflection.end();
    expect(listed.list_services_response.service.map((s: any) => s.name).sort()).toEqual(
      ['grpc.health.v1.Health', 'llm_incident_manager.v1.AlertIngestion', 'llm_incident_manager.v1.IncidentService'].sort(),
    );

    // What grpcurl needs to describe and call a service: the file declaring it, every file it
    // imports (by name), and each referenced type defined in the file or one it imports.
    for (const symbol of ['llm_incident_manager.v1.IncidentService', 'llm_incident_manager.v1.AlertIngestion', 'grpc.health.v1.Health']) {
      const call = clients.reflection.ServerReflectionInfo() as grpc.ClientDuplexStream<any, any>;
      const reply = collect(call, 1);
      call.write({ file_containing_symbol: symbol });
      const [found] = await reply;
      call.end();
      const files = (found.file_descriptor_response.file_descriptor_proto as Buffer[]).map((bin) => FileDescriptorProto.decode(bin) as any);
      const byName = new Map(files.map((f) => [f.name, f]));
      const defined = (file: any): string[] => [
        ...(file.messageType ?? []).map((m: any) => `.${file.package}.${m.name}`),
        ...(file.enumType ?? []).map((e: any) => `.${file.package}.${e.name}`),
        ...(file.messageType ?? []).flatMap((m: any) =>
          [...(m.nestedType ?? []), ...(m.enumType ?? [])].map((n: any) => `.${file.package}.${m.name}.${n.name}`),
        ),
      ];
      for (const file of files) {
        for (const dep of file.dependency ?? []) expect(byName.has(dep)).toBe(true);
        const visible = new Set([...defined(file), ...(file.dependency ?? []).flatMap((dep: string) => defined(byName.get(dep)))]);
        for (const message of file.messageType ?? []) {
          for (const field of message.field ?? []) {
            const type: string | undefined = field.typeName;
            if (!type) continue;
            // Relative names resolve from the message outwards, as protobuf scoping does (map
            // fields refer to an entry type nested in the message).
            const scope = `.${file.package}.${message.name}`;
            const candidates = type.startsWith('.') ? [type] : [`${scope}.${type}`, `${scope}.${type}Entry`, `.${file.package}.${type}`, `.${type}`];
            expect({ file: file.name, type, visible: candidates.some((c) => visible.has(c)) }).toEqual({ file: file.name, type, visible: true });
          }
        }
      }
    }

    const late = await failure(unary(clients.incidents, 'ListIncidents', {}, -1));
    expect(late.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The server is unaffected.
    expect(await unary(clients.incidents, 'ListIncidents', {})).toMatchObject({ total: 0 });
  });
});

describe('gRPC stream limits', () => {
  // The transport's limit, not the store's: SQLite's group commits emit events in bursts that
  // fill the server's write buffer at once, which is what this needs.
  it('cuts off a StreamIncidents client that stops reading, instead of buffering for it without end', async () => {
    const store = await TestStore.create('sqlite');
    const app = await startApp(store, { grpc: true });
    const clients = clientsFor(app.grpcAddress);
    try {
      const events = app.app.get(IncidentEventStream);
      const stalled = clients.incidents.StreamIncidents({}) as grpc.ClientReadableStream<any>;
      const ended = new Promise<grpc.ServiceError>((resolve) => stalled.on('error', resolve));
      stalled.pause(); // reads nothing: flow control fills up, then the server counts unread events
      await waitUntil(() => events.subscriberCount() === 1);
      for (let batch = 0; batch < 12 && events.subscriberCount() === 1; batch++) {
        const alerts = Array.from({ length: 1000 }, (_, i) => alert({ title: `flood ${batch}-${i}` }));
        await app.http.post('/v1/alerts').send(alerts).expect(200);
      }
      await waitUntil(() => events.subscriberCount() === 0, 10_000);
      stalled.resume();
      const err = await ended;
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(err.details).toContain('10000 events');
    } finally {
      clients.close();
      await app.close();
      await store.destroy();
    }
  });
});

describe('gRPC and notifications', () => {
  it('notifies for SubmitAlert, CreateIncident and ResolveIncident exactly as REST does', async () => {
    const store = await TestStore.create('sqlite');
    const sink = await webhookSink();
    const app = await startApp(store, {
      grpc: true,
      overrides: { notifications: { webhook_enabled: true, default_webhook_url: `${sink.url}/hook` } },
      env: WEBHOOK_SIGNING_ENV,
    });
    const clients = clientsFor(app.grpcAddress);
    try {
      const ack = await unary(clients.alerts, 'SubmitAlert', { alert: protoAlert({ severity: 'P0' }) });
      await unary(clients.alerts, 'SubmitAlert', { alert: protoAlert({ severity: 'P0' }) }); // a duplicate notifies nobody
      const created = await unary(clients.incidents, 'CreateIncident', newIncident());
      await unary(clients.incidents, 'ResolveIncident', { id: ack.incident_id, resolved_by: 'alice', method: 'MANUAL', notes: 'fixed' });
      const viaRest = (
        await app.http
          .post('/v1/alerts')
          .send(alert({ title: 'from REST' }))
          .expect(200)
      ).body;
      await sink.waitFor(4);
      // Deliveries to one target go out in order per incident; across incidents they run in parallel.
      const received = sink.received.map((r) => `${r.body.event_type} ${r.body.incident.id}`);
      expect([...received].sort()).toEqual(
        [
          `incident.detected ${ack.incident_id}`,
          `incident.detected ${created.id}`,
          `incident.resolved ${ack.incident_id}`,
          `incident.detected ${viaRest.incident_id}`,
        ].sort(),
      );
      expect(received.indexOf(`incident.detected ${ack.incident_id}`)).toBeLessThan(received.indexOf(`incident.resolved ${ack.incident_id}`));
      let log: any[] = [];
      for (let i = 0; i < 50 && !(log.length === 2 && log.every((d) => d.status === 'sent')); i++) {
        log = (await app.http.get(`/v1/incidents/${ack.incident_id}/notifications`).expect(200)).body;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(log.map((d: any) => [d.event, d.status])).toEqual([
        ['incident.detected', 'sent'],
        ['incident.resolved', 'sent'],
      ]);
    } finally {
      clients.close();
      await app.close();
      await sink.close();
      await store.destroy();
    }
  });
});
