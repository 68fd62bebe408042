import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Worker } from 'node:worker_threads';
import { permanent, retry, SendOutcome } from '../notification';

/** Bodies of answers are read only this far: enough for an error message, never a whole page. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export const USER_AGENT = 'llm-incident-manager/1.0';

/** A network failure or timeout: there was no HTTP answer, so the attempt may be retried. */
export class NoAnswer extends Error {}

/**
 * The sender thread. It does the HTTP exchanges (connections, TLS, parsing) for the channels, so
 * that work runs beside the event loop that serves the API and the database rather than on it.
 * Requests and answers travel in batches, one message per turn of either event loop.
 */
const SENDER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, request } = require(workerData.undici);
const MAX = ${MAX_ANSWER_BYTES};
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const agents = new Map();
function agentFor(ms) {
  let agent = agents.get(ms);
  if (!agent) {
    agent = new Agent({ connections: 128, keepAliveTimeout: 30000, connect: { timeout: ms }, headersTimeout: ms, bodyTimeout: ms });
    agents.set(ms, agent);
  }
  return agent;
}
function failure(err, ms) {
  const code = err && err.code;
  if (err && (err.name === 'TimeoutError' || err.name === 'AbortError')) return { kind: 'noanswer', message: 'timed out after ' + ms / 1000 + ' s' };
  if (code === 'UND_ERR_INVALID_ARG' || err instanceof TypeError) return { kind: 'invalid', message: 'invalid URL' };
  if (code && TIMEOUTS.has(code)) return { kind: 'noanswer', message: 'timed out after ' + ms / 1000 + ' s' };
  return { kind: 'noanswer', message: code ? 'network error ' + code : 'network error: ' + (err && err.message) };
}
let out = [];
function reply(answer) {
  if (out.length === 0) setImmediate(() => { const batch = out; out = []; parentPort.postMessage(batch); });
  out.push(answer);
}
async function exchange(r) {
  let res;
  try {
    // One deadline for the whole exchange; the agent's own timeouts bound each phase.
    res = await request(r.url, { method: 'POST', dispatcher: agentFor(r.timeoutMs), headers: r.headers, body: r.body, signal: AbortSignal.timeout(r.timeoutMs) });
  } catch (err) {
    return reply({ id: r.id, error: failure(err, r.timeoutMs) });
  }
  const retryAfter = res.headers['retry-after'];
  if (!r.readSuccessBody && res.statusCode >= 200 && res.statusCode < 300) {
    await res.body.dump().catch(() => undefined);
    return reply({ id: r.id, status: res.statusCode, retryAfter, body: '' });
  }
  const chunks = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX) { res.body.destroy(); break; }
    }
  } catch (err) {
    return reply({ id: r.id, error: failure(err, r.timeoutMs) });
  }
  reply({ id: r.id, status: res.statusCode, retryAfter, body: Buffer.concat(chunks).toString('utf8').slice(0, MAX) });
}
parentPort.on('message', (message) => {
  if (message === 'stop') {
    Promise.all([...agents.values()].map((a) => a.destroy().catch(() => undefined))).then(() => parentPort.close());
    return;
  }
  for (const r of message) exchange(r);
});
`;

/** How long past its timeout an exchange may go unanswered before it is given up. */
const LOST_ANSWER_GRACE_MS = 5_000;

interface SenderRequest {
  id: number;
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  readSuccessBody: boolean;
}

type SenderReply =
  { id: number; status: number; retryAfter?: string | string[]; body: string } | { id: number; error: { kind: 'invalid' | 'noanswer'; message: string } };

/**
 * Outbound HTTP for the channels, done on the sender thread over keep-alive connection pools
 * (undici), one per timeout in use, so connecting, waiting for the answer and reading it are each
 * bounded by the channel's timeout. One per application, stopped with it; a sender thread that
 * dies fails the exchanges in flight as unanswered (so they are retried) and is started again.
 */
@Injectable()
export class HttpClient implements OnApplicationShutdown {
  private worker?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (answer: HttpAnswer) => void; reject: (err: Error) => void }>();
  private outbox: SenderRequest[] = [];
  private closed = false;

  /** POSTs JSON and reads the answer (only its status and Retry-After on success, unless asked). */
  postJson(url: string, body: unknown, options: { timeoutMs: number; headers?: Record<string, string>; readSuccessBody?: boolean }): Promise<HttpAnswer> {
    if (this.closed) return Promise.reject(new NoAnswer('the service is shutting down'));
    const id = this.nextId++;
    if (this.outbox.length === 0) setImmediate(() => this.post());
    this.outbox.push({
      id,
      url,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': USER_AGENT, ...options.headers },
      timeoutMs: options.timeoutMs,
      readSuccessBody: options.readSuccessBody === true,
    });
    return new Promise((resolve, reject) => {
      // The sender thread answers within the timeout; this only guards against a lost answer.
      const guard = setTimeout(() => {
        if (this.waiting.delete(id)) reject(new NoAnswer(`timed out after ${options.timeoutMs / 1000} s`));
      }, options.timeoutMs + LOST_ANSWER_GRACE_MS);
      guard.unref();
      this.waiting.set(id, {
        resolve: (answer) => {
          clearTimeout(guard);
          resolve(answer);
        },
        reject: (err) => {
          clearTimeout(guard);
          reject(err);
        },
      });
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    worker.postMessage('stop');
    await Promise.race([new Promise((resolve) => worker.once('exit', resolve)), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await worker.terminate();
  }

  private post(): void {
    const batch = this.outbox;
    this.outbox = [];
    if (batch.length > 0) this.sender().postMessage(batch);
  }

  private sender(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(SENDER_SOURCE, { eval: true, workerData: { undici: require.resolve('undici') } });
    worker.on('message', (replies: SenderReply[]) => {
      for (const r of replies) {
        const waiter = this.waiting.get(r.id);
        if (!waiter) continue;
        this.waiting.delete(r.id);
        if ('error' in r) waiter.reject(r.error.kind === 'invalid' ? new Error(r.error.message) : new NoAnswer(r.error.message));
        else waiter.resolve({ status: r.status, headers: { 'retry-after': r.retryAfter }, body: r.body });
      }
    });
    const lost = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const waiter of this.waiting.values()) waiter.reject(new NoAnswer(why));
      this.waiting.clear();
    };
    worker.on('error', (err) => lost(`sender thread failed: ${err.message}`));
    worker.on('exit', () => lost('sender thread stopped'));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

/** Retry-After in seconds or as an HTTP date, in milliseconds from now; undefined if absent or bad. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * The classification of PROTOCOLS.md for HTTP targets: 2xx delivered (decided by the caller);
 * 408, 429 and 5xx retry, honouring Retry-After; any other status is permanent.
 */
export function classifyFailure(answer: HttpAnswer, what: string): SendOutcome {
  const detail = `${what} answered HTTP ${answer.status}${answer.body ? `: ${answer.body.slice(0, 200)}` : ''}`;
  if (answer.status === 408 || answer.status === 429 || answer.status >= 500) {
    return retry(detail, retryAfterMs(answer.headers['retry-after']));
  }
  return permanent(detail);
}

/** Runs one HTTP exchange and maps a missing answer to a retry. */
export async function exchange(send: () => Promise<HttpAnswer>, onAnswer: (answer: HttpAnswer) => SendOutcome): Promise<SendOutcome> {
  let answer: HttpAnswer;
  try {
    answer = await send();
  } catch (err) {
    if (err instanceof NoAnswer) return retry(err.message);
    return permanent((err as Error).message);
  }
  return onAnswer(answer);
}
