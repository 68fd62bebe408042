import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Agent, request } from 'undici';
import { permanent, retry, SendOutcome } from '../notification';

/** Bodies of answers are read only this far: enough for an error message, never a whole page. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export const USER_AGENT = 'llm-incident-manager/1.0 (+notifications)';

/** A network failure or timeout: there was no HTTP answer, so the attempt may be retried. */
export class NoAnswer extends Error {}

/**
 * Outbound HTTP for the channels: keep-alive connection pools (undici: about a third less CPU
 * per request than node:http), one per timeout in use, so connecting, waiting for the answer and
 * reading it are each bounded by the channel's timeout. One per application, closed with it.
 */
@Injectable()
export class HttpClient implements OnApplicationShutdown {
  private readonly agents = new Map<number, Agent>();

  /** POSTs JSON and reads the answer (its first 64 KiB). */
  async postJson(url: string, body: unknown, options: { timeoutMs: number; headers?: Record<string, string> }): Promise<HttpAnswer> {
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        method: 'POST',
        dispatcher: this.agentFor(options.timeoutMs),
        headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': USER_AGENT, ...options.headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    } catch (err) {
      throw describeFailure(err as Error & { code?: string }, options.timeoutMs);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        chunks.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (size >= MAX_ANSWER_BYTES) {
          res.body.destroy();
          break;
        }
      }
    } catch (err) {
      throw describeFailure(err as Error & { code?: string }, options.timeoutMs);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER_BYTES) };
  }

  async onApplicationShutdown(): Promise<void> {
    const all = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(all.map((agent) => agent.destroy().catch(() => undefined)));
  }

  private agentFor(timeoutMs: number): Agent {
    let agent = this.agents.get(timeoutMs);
    if (!agent) {
      agent = new Agent({
        connections: 128,
        keepAliveTimeout: 30_000,
        connect: { timeout: timeoutMs },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      this.agents.set(timeoutMs, agent);
    }
    return agent;
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Network failures without the address they carry (it can include a secret URL's host). An
 * invalid URL is the caller's mistake, not the network's: it is not a NoAnswer.
 */
function describeFailure(err: Error & { code?: string }, timeoutMs: number): Error {
  if (err.code === 'UND_ERR_INVALID_ARG') return new Error('invalid URL');
  if (err.code && TIMEOUT_CODES.has(err.code)) return new NoAnswer(`timed out after ${timeoutMs / 1000} s`);
  return new NoAnswer(err.code ? `network error ${err.code}` : `network error: ${err.message}`);
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
