/**
 * A gRPC client of the incident manager, built from proto/incident_manager.proto with
 * @grpc/grpc-js. It watches live incident events, submits alerts (one, a batch, a stream),
 * and walks an incident through its lifecycle.
 *
 *   npm run example examples/grpc_client.ts                         # starts a service in-process
 *   GRPC_ADDRESS=127.0.0.1:9000 API_KEY=lim_... npm run example examples/grpc_client.ts   # uses a running one
 *
 * Every call carries the API key in the `authorization` metadata entry; the key needs the
 * alerts:write, incidents:read and incidents:write scopes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createApp } from '../src/app';
import { generateApiKey } from '../src/auth/api-key-format';
import { buildConfig } from '../src/config/config.loader';
import { INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS, startGrpc } from '../src/grpc/grpc.server';

/** A service on a temporary SQLite file, when no GRPC_ADDRESS is given. */
async function localService(): Promise<{ address: string; key: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'llm-im-grpc-example-'));
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const key = generateApiKey().key;
  const config = buildConfig(
    { storage: { sqlite_path: join(dir, 'incidents.db') }, server: { host: '127.0.0.1', grpc_port: port } },
    { ...process.env, LLM_IM_BOOTSTRAP_KEY: key },
  );
  const app = await createApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  await startGrpc(app, config);
  return {
    address: `127.0.0.1:${port}`,
    key,
    stop: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function call<T = any>(client: any, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method](request, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, answer: T) => (err ? reject(err) : resolve(answer))),
  );
}

async function main(): Promise<void> {
  const local = process.env.GRPC_ADDRESS ? null : await localService();
  const address = process.env.GRPC_ADDRESS ?? local!.address;
  const key = process.env.API_KEY ?? local?.key;
  if (!key) throw new Error('set API_KEY to a key of the service at GRPC_ADDRESS');
  // Call credentials would need TLS; plain metadata works on both.
  const withKey: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${key}`);
        next(metadata, listener);
      },
    });
  const definition = protoLoader.loadSync(INCIDENT_MANAGER_PROTO, PROTO_LOADER_OPTIONS);
  const v1 = (grpc.loadPackageDefinition(definition) as any).llm_incident_manager.v1;
  const alerts = new v1.AlertIngestion(address, grpc.credentials.createInsecure(), { interceptors: [withKey] });
  const incidents = new v1.IncidentService(address, grpc.credentials.createInsecure(), { interceptors: [withKey] });
  try {
    // Live events of P0/P1 incidents, whoever changes them (REST or gRPC).
    const events = incidents.StreamIncidents({ severity: ['P0', 'P1'] });
    events.on('data', (e: any) => console.log(`event ${e.event_type}: "${e.incident.title}" is ${e.incident.state}`));
    events.on('error', () => undefined); // cancelled at the end
    await new Promise((resolve) => setTimeout(resolve, 100));

    const alert = {
      source: 'llm-sentinel',
      title: 'API Gateway Down',
      description: 'All requests returning 503 errors',
      severity: 'P0',
      alert_type: 'AVAILABILITY',
      affected_services: ['api-gateway'],
      labels: { environment: 'production' },
    };
    const ack = await call(alerts, 'SubmitAlert', { alert });
    console.log('SubmitAlert:', ack.status, ack.incident_id);
    const again = await call(alerts, 'SubmitAlert', { alert });
    console.log('SubmitAlert (same alert):', again.status);
    const batch = await call(alerts, 'SubmitAlerts', { alerts: [{ ...alert, title: 'Disk full', severity: 'P2', alert_type: 'INFRASTRUCTURE' }] });
    console.log('SubmitAlerts:', batch.acks.map((a: any) => a.status).join(', '));

    const stream = alerts.StreamAlerts();
    const acks = new Promise<void>((resolve) => {
      stream.on('data', (a: any) => console.log(`StreamAlerts ack #${a.index}: ${a.status}${a.error ? ` (${a.error})` : ''}`));
      stream.on('end', resolve);
    });
    stream.write({ alert: { ...alert, title: 'Queue backlog', severity: 'P3' } });
    stream.write({ alert: { ...alert, title: '' } });
    stream.end();
    await acks;

    const id = ack.incident_id;
    await call(incidents, 'TransitionIncident', { id, state: 'INVESTIGATING', actor: 'alice', note: 'looking at the gateway' });
    await call(incidents, 'AddNote', { id, author: 'alice', content: 'rolled back to v2.3.0' });
    await call(incidents, 'ResolveIncident', { id, resolved_by: 'alice', method: 'MANUAL', notes: 'rolled back', root_cause: 'bad config push' });
    const detail = await call(incidents, 'GetIncident', { id });
    console.log(`GetIncident: ${detail.incident.state}, ${detail.timeline.length} timeline entries, ${detail.notes.length} note`);
    const page = await call(incidents, 'ListIncidents', { active_only: true });
    console.log(`ListIncidents (active): ${page.total}`);
    try {
      await call(incidents, 'TransitionIncident', { id, state: 'TRIAGED', actor: 'alice' });
    } catch (err) {
      console.log(`TransitionIncident Resolved → Triaged: ${grpc.status[(err as grpc.ServiceError).code]}: ${(err as grpc.ServiceError).details}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    events.cancel();
  } finally {
    alerts.close();
    incidents.close();
    await local?.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
