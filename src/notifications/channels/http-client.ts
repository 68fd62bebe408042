import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { startWorker } from '../../common/worker-thread';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schema';
import { permanent, retry, SendOutcome } from '../notification';
import type { SenderData, SenderReply, SenderRequest } from './http-sender.worker';

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

/** How long past its timeout an exchange may go unanswered before it is given up. */
const LOST_ANSWER_GRACE_MS = 5_000;

/**
 * Outbound HTTP for the channels, done on the sender thread (http-sender.worker.ts) over keep-alive connection pools
 * (undici), one per timeout in use, so connecting, waiting for the answer and reading it are each
 * bounded by the channel's timeout. One per application, stopped with it; a sender thread that
 * dies fails the exchanges in flight as unanswered (so they are retried) and is started again.
 */
@Injectable()
export class HttpClient implements OnApplicationShutdown {
  constructor(@InjectConfig() private readonly config: AppConfig) {}

  private worker?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (answer: HttpAnswer) => void; reject: (err: Error) => void }>();
  private outbox: SenderRequest[] = [];
  private closed = false;

  /**
   * POSTs JSON and reads the answer (only its status and Retry-After on success, unless asked).
   * `guarded`: the URL came from an API request and goes only where the outbound policy allows;
   * a refusal rejects with the reason (a permanent failure).
   */
  postJson(
    url: string,
    body: unknown,
    options: { timeoutMs: number; headers?: Record<string, string>; readSuccessBody?: boolean; guarded?: boolean },
  ): Promise<HttpAnswer> {
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
      guarded: options.guarded === true,
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
    const n = this.config.notifications;
    const workerData: SenderData = { connections: n.worker_threads * n.worker_max_in_flight, maxAnswerBytes: MAX_ANSWER_BYTES, outbound: this.config.outbound };
    const worker = startWorker(join(__dirname, 'http-sender.worker'), { workerData });
    worker.on('message', (replies: SenderReply[]) => {
      for (const r of replies) {
        const waiter = this.waiting.get(r.id);
        if (!waiter) continue;
        this.waiting.delete(r.id);
        if ('error' in r) waiter.reject(r.error.kind === 'noanswer' ? new NoAnswer(r.error.message) : new Error(r.error.message));
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
 * How an HTTP target's answer is classified: 2xx delivered (decided by the caller);
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
