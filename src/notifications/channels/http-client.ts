import http from 'node:http';
import https from 'node:https';
import { permanent, retry, SendOutcome } from '../notification';

/** Keep-alive agents: a delivery reuses the connection of the previous one to the same host. */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: 64, maxFreeSockets: 64, scheduling: 'lifo' as const };
const httpAgent = new http.Agent(AGENT_OPTIONS);
const httpsAgent = new https.Agent(AGENT_OPTIONS);

/** Bodies of answers are read only this far: enough for an error message, never a whole page. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export const USER_AGENT = 'llm-incident-manager/1.0 (+notifications)';

/** A network failure or timeout: there was no HTTP answer, so the attempt may be retried. */
export class NoAnswer extends Error {}

/** POSTs JSON and reads the answer; a timeout covers the whole exchange. */
export function postJson(
  url: string,
  body: unknown,
  options: { timeoutMs: number; headers?: Record<string, string>; method?: string },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new Error('invalid URL'));
      return;
    }
    const data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const isHttps = target.protocol === 'https:';
    const req = (isHttps ? https : http).request(
      target,
      {
        method: options.method ?? 'POST',
        agent: isHttps ? httpsAgent : httpAgent,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': String(data.length),
          'user-agent': USER_AGENT,
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER_BYTES) });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(new NoAnswer(err.message));
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new NoAnswer(`timed out after ${options.timeoutMs / 1000} s`));
    }, options.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof NoAnswer ? err : new NoAnswer(describeNetworkError(err)));
    });
    req.end(data);
  });
}

/** Node's network errors without the address they carry (it can include a secret URL's host). */
function describeNetworkError(err: Error & { code?: string }): string {
  return err.code ? `network error ${err.code}` : `network error: ${err.message}`;
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
