import { join } from 'node:path';
import { type Server, ServerCredentials } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { INestApplication } from '@nestjs/common';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { grpcServerWithStreamBuffer } from './stream-buffer';
import { ShutdownSignal } from '../common/shutdown-signal';
import { accessLogOf } from '../common/request-logging';
import { readTlsFiles } from '../common/tls';
import { hostPort } from '../common/listen-address';
import type { AppConfig } from '../config/config.schema';
import { grpcMetricsInterceptor } from '../metrics/grpc-metrics';
import { MetricsService } from '../metrics/metrics.service';
import { requestIdInterceptor } from './grpc-request-id';
import { reflectionFor } from './reflection';
import { guardWireShapes } from './wire-shape';

export const PROTO_DIR = join(__dirname, '..', '..', 'proto');
export const INCIDENT_MANAGER_PROTO = join(PROTO_DIR, 'incident_manager.proto');
export const HEALTH_PROTO = join(PROTO_DIR, 'grpc', 'health', 'v1', 'health.proto');

/** How @grpc/proto-loader reads the contract, on the server and in the tests' clients alike. */
export const PROTO_LOADER_OPTIONS = {
  keepCase: true, // field names as in the proto: the REST JSON names
  longs: Number,
  enums: String, // enum values by name
  defaults: false, // unset fields stay absent, so "not given" can be told from a zero value
  oneofs: true, // presence of `optional` fields
  includeDirs: [PROTO_DIR],
};

/**
 * Adds the gRPC server to the application (hybrid app) and starts it: the incident manager's
 * services, grpc.health.v1.Health, and server reflection (so grpcurl works without the proto
 * file). Call after the HTTP server listens.
 */
export async function startGrpc(app: INestApplication, config: AppConfig): Promise<{ address: string }> {
  const tls = readTlsFiles(config.server);
  let server: Server | undefined;
  const metrics = app.get(MetricsService);
  // On shutdown, calls in flight may finish (graceful) for a while; then the server stops anyway.
  app.get(ShutdownSignal).closing$.subscribe(() => setTimeout(() => server?.forceShutdown(), GRACEFUL_SHUTDOWN_MS).unref());
  app.connectMicroservice<MicroserviceOptions>(
    {
      strategy: grpcServerWithStreamBuffer({
        url: hostPort(config.server.host, config.server.grpc_port),
        package: ['llm_incident_manager.v1', 'grpc.health.v1'],
        protoPath: [INCIDENT_MANAGER_PROTO, HEALTH_PROTO],
        loader: PROTO_LOADER_OPTIONS,
        gracefulShutdown: true,
        // Passed on to the grpc-js Server, whose interceptors see every call's metadata and final status.
        channelOptions: { interceptors: [requestIdInterceptor(accessLogOf(app)), ...(metrics.enabled ? [grpcMetricsInterceptor(metrics)] : [])] },
        // The same certificate as HTTP; clients are not asked for certificates (API keys identify them).
        credentials: tls ? ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false) : ServerCredentials.createInsecure(),
        onLoadPackageDefinition: (definition: PackageDefinition, grpcServer: Server) => {
          server = grpcServer;
          guardWireShapes(definition);
          reflectionFor(definition).addToServer(grpcServer);
        },
      }),
    },
    { inheritAppConfig: false },
  );
  await app.startAllMicroservices();
  return { address: hostPort(config.server.host, boundPort(server) ?? config.server.grpc_port) };
}

/**
 * The port the gRPC server holds: the configured one, or the one the system chose for port 0.
 * grpc-js keeps it in a private map (Nest drops what bindAsync answers), so this reads it
 * defensively and falls back to the configured port.
 */
function boundPort(server: Server | undefined): number | undefined {
  const ports = (server as unknown as { boundPorts?: Map<string, { portNumber?: number }> } | undefined)?.boundPorts;
  if (!(ports instanceof Map)) return undefined;
  for (const port of ports.values()) if (typeof port.portNumber === 'number' && port.portNumber > 0) return port.portNumber;
  return undefined;
}

/** How long calls in flight may take to finish once shutdown begins. */
const GRACEFUL_SHUTDOWN_MS = 10_000;
