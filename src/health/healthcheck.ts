/**
 * The container's health check: `node dist/health/healthcheck.js` exits 0 when this instance's
 * GET /health/ready answers 200, else 1. It reads the same configuration as the service (file and
 * LLM_IM__ variables), so it follows a changed port and asks over HTTPS when TLS is on.
 *
 * The certificate is not verified: the check talks to its own process (over loopback unless
 * server.host names one address), and a certificate is issued for the name clients use, which is
 * rarely the address the check asks. It sends no credential.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { hostPort, isEveryInterface } from '../common/listen-address';
import { readConfig } from '../config/config.loader';
import type { AppConfig } from '../config/config.schema';

const TIMEOUT_MS = 4_000;

/** The address to ask: the bound one, or loopback when the service binds every interface. */
export function healthcheckUrl(server: AppConfig['server']): string {
  const scheme = server.tls_cert_path ? 'https' : 'http';
  const host = isEveryInterface(server.host) ? (server.host === '::' ? '::1' : '127.0.0.1') : server.host;
  return `${scheme}://${hostPort(host, server.http_port)}/health/ready`;
}

/** Resolves to the status code, or rejects when nothing answered in time. */
export function probe(url: string, timeoutMs = TIMEOUT_MS): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest(url, { rejectUnauthorized: false }) : httpRequest(url);
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

async function main(): Promise<void> {
  let url = '/health/ready';
  try {
    // Only [server] matters here: a secret the service needs is its business, not the check's.
    url = healthcheckUrl(readConfig(process.env, { secrets: 'optional' }).config.server);
    const status = await probe(url);
    if (status === 200) process.exit(0);
    process.stderr.write(`${url} answered ${status}\n`);
  } catch (err) {
    process.stderr.write(`${url}: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
}

if (require.main === module) void main();
