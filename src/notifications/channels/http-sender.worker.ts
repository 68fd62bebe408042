/**
 * The sender thread (see HttpClient): the channels' HTTP exchanges (connections, TLS, parsing)
 * run here, beside the event loop that serves the API and the database rather than on it.
 * Requests and answers travel in batches, one message per turn of either event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { OutboundAllowance, OutboundPolicy } from '../../common/outbound/outbound-policy';

export interface SenderData {
  /** Connections per origin: the pool's exchanges in flight, so none waits for a socket. */
  connections: number;
  /** Bodies of answers are read only this far: enough for an error message, never a whole page. */
  maxAnswerBytes: number;
  outbound: OutboundAllowance;
}

export interface SenderRequest {
  id: number;
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  readSuccessBody: boolean;
  /** The URL came from an API request: it goes through the outbound policy (see OutboundPolicy). */
  guarded: boolean;
}

export type SenderReply =
  { id: number; status: number; retryAfter?: string | string[]; body: string } | { id: number; error: { kind: SenderFailure; message: string } };

/** invalid and refused are final (the request cannot be sent); noanswer may be retried. */
export type SenderFailure = 'invalid' | 'refused' | 'noanswer';

const data = workerData as SenderData;
const port = parentPort!;
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const agents = new Map<string, Agent>();
const policy = new OutboundPolicy(data.outbound);
const guardedLookup = policy.lookup();

/**
 * One keep-alive pool per timeout in use, so connecting, waiting and reading are each bounded by
 * it. Guarded requests get pools of their own whose connections resolve through the policy, so
 * config URLs keep the plain, uninspected path.
 */
function agentFor(ms: number, guarded: boolean): Agent {
  const key = `${guarded ? 'guarded' : 'plain'}:${ms}`;
  let agent = agents.get(key);
  if (!agent) {
    const connect = guarded ? { timeout: ms, lookup: guardedLookup } : { timeout: ms };
    agent = new Agent({ connections: data.connections, keepAliveTimeout: 30_000, connect, headersTimeout: ms, bodyTimeout: ms });
    agents.set(key, agent);
  }
  return agent;
}

function failure(err: unknown, ms: number): { kind: SenderFailure; message: string } {
  const e = err as { name?: string; code?: string; message?: string } | null;
  const code = e?.code;
  if (code === 'ERR_OUTBOUND_REFUSED') return { kind: 'refused', message: e!.message! };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { kind: 'noanswer', message: `timed out after ${ms / 1000} s` };
  if (code === 'UND_ERR_INVALID_ARG' || err instanceof TypeError) return { kind: 'invalid', message: 'invalid URL' };
  if (code && TIMEOUTS.has(code)) return { kind: 'noanswer', message: `timed out after ${ms / 1000} s` };
  return { kind: 'noanswer', message: code ? `network error ${code}` : `network error: ${e?.message}` };
}

let out: SenderReply[] = [];
function reply(answer: SenderReply): void {
  if (out.length === 0) {
    setImmediate(() => {
      const batch = out;
      out = [];
      port.postMessage(batch);
    });
  }
  out.push(answer);
}

async function exchange(r: SenderRequest): Promise<void> {
  // Node's net skips the lookup for an IP-literal host, so those are judged here.
  const refused = r.guarded ? policy.refusedUrl(r.url) : undefined;
  if (refused !== undefined) return reply({ id: r.id, error: { kind: 'refused', message: `refused: ${refused}` } });
  let res: Awaited<ReturnType<typeof request>>;
  try {
    // One deadline for the whole exchange; the agent's own timeouts bound each phase.
    res = await request(r.url, {
      method: 'POST',
      dispatcher: agentFor(r.timeoutMs, r.guarded),
      headers: r.headers,
      body: r.body,
      signal: AbortSignal.timeout(r.timeoutMs),
    });
  } catch (err) {
    return reply({ id: r.id, error: failure(err, r.timeoutMs) });
  }
  const retryAfter = res.headers['retry-after'];
  if (!r.readSuccessBody && res.statusCode >= 200 && res.statusCode < 300) {
    await res.body.dump().catch(() => undefined);
    return reply({ id: r.id, status: res.statusCode, retryAfter, body: '' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= data.maxAnswerBytes) {
        res.body.destroy();
        break;
      }
    }
  } catch (err) {
    return reply({ id: r.id, error: failure(err, r.timeoutMs) });
  }
  reply({ id: r.id, status: res.statusCode, retryAfter, body: Buffer.concat(chunks).toString('utf8').slice(0, data.maxAnswerBytes) });
}

port.on('message', (message: SenderRequest[] | 'stop') => {
  if (message === 'stop') {
    void Promise.all([...agents.values()].map((a) => a.destroy().catch(() => undefined))).then(() => port.close());
    return;
  }
  for (const r of message) void exchange(r);
});
