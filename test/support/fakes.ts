import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * Real HTTP servers standing in for Slack, PagerDuty and webhook targets. Each enforces the
 * limits of the real providers (so a test fails where the real service would refuse) and can be
 * scripted to answer 429 with Retry-After, 5xx, 4xx, or to hang past the client's timeout.
 */

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** The body as it arrived (a signature covers these bytes, not the parsed value). */
  raw: string;
  at: number;
}

export type Scripted = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export class FakeTarget {
  readonly received: Received[] = [];
  /** Every request, accepted or not: when it arrived and what it carried. */
  readonly attempts: Received[] = [];
  /** Answers for the next requests, in order; when empty the fake answers as the real service. */
  readonly script: Scripted[] = [];
  /** Answer every request like this (after the script), e.g. to keep a target down. */
  always?: Scripted;
  /** Wait this long before answering (a slow target). */
  delayMs = 0;
  private readonly server: http.Server;
  private readonly hanging = new Set<http.ServerResponse>();
  private waiters: Array<() => void> = [];

  constructor(
    private readonly judge: (
      path: string,
      body: any,
      headers: http.IncomingHttpHeaders,
    ) => { status: number; body: string; headers?: Record<string, string>; refused?: boolean },
  ) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: any = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* kept as text */
        }
        this.attempts.push({ path: req.url ?? '/', headers: req.headers, body, raw: text, at: Date.now() });
        const next = this.script.shift() ?? this.always;
        if (next === 'hang') {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        const answer: { status: number; body?: string; headers?: Record<string, string>; refused?: boolean } =
          next ?? this.judge(req.url ?? '/', body, req.headers);
        // Only what the target accepted counts as received.
        if (answer.status >= 200 && answer.status < 300 && !answer.refused) {
          this.received.push({ path: req.url ?? '/', headers: req.headers, body, raw: text, at: Date.now() });
          for (const wake of this.waiters.splice(0)) wake();
        }
        const respond = () => {
          res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
          res.end(answer.body ?? '');
        };
        if (this.delayMs > 0) setTimeout(respond, this.delayMs);
        else respond();
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private port = 0;

  /**
   * The target goes away: its connections are cut and its port refuses new ones (ECONNREFUSED),
   * as a stopped receiver's would, until up().
   */
  async down(): Promise<void> {
    this.port = (this.server.address() as AddressInfo).port;
    for (const res of this.hanging) res.destroy();
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeAllConnections();
    await closed;
  }

  /** Back on the same port. */
  async up(): Promise<void> {
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
  }

  /** Waits until `count` requests have been accepted (or fails after `ms`). */
  async waitFor(count: number, ms = 15_000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} accepted requests, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
  }
}

// ------------------------------------------------------------------ Slack

function slackBlocksProblem(body: any): string | null {
  if (typeof body !== 'object' || body === null) return 'invalid_payload';
  if (typeof body.text !== 'string' || body.text === '') return 'no_text';
  if (body.text.length > 40_000) return 'msg_too_long';
  const all: any[] = [...(body.blocks ?? []), ...((body.attachments ?? []) as any[]).flatMap((a) => a.blocks ?? [])];
  if (all.length > 50) return 'invalid_blocks';
  for (const block of all) {
    if (block.type === 'header' && (block.text?.type !== 'plain_text' || Array.from(block.text.text as string).length > 150)) return 'invalid_blocks';
    if (block.type === 'section') {
      if (block.text && Array.from(block.text.text as string).length > 3000) return 'invalid_blocks';
      if (block.fields && (block.fields.length > 10 || block.fields.some((f: any) => Array.from(f.text as string).length > 2000))) return 'invalid_blocks';
    }
    if (block.type === 'context' && (block.elements?.length ?? 0) > 10) return 'invalid_blocks';
  }
  return null;
}

/** An incoming webhook: 200 `ok`, or a real HTTP error with a short text body. */
export function slackWebhookFake(): Promise<FakeTarget> {
  return new FakeTarget((_path, body) => {
    const problem = slackBlocksProblem(body);
    return problem ? { status: 400, body: problem === 'no_text' ? 'no_text' : 'invalid_blocks' } : { status: 200, body: 'ok' };
  }).listen();
}

/** The Web API (chat.postMessage, chat.update): HTTP 200 with `{ok:false,error}` for most errors. */
export function slackApiFake(token: string): Promise<FakeTarget> {
  let ts = 1700000000;
  return new FakeTarget((path, body, headers) => {
    const json = (value: { ok: boolean; [key: string]: unknown }) => ({
      status: 200,
      body: JSON.stringify(value),
      headers: { 'content-type': 'application/json' },
      refused: !value.ok,
    });
    if (headers.authorization !== `Bearer ${token}`) return json({ ok: false, error: 'invalid_auth' });
    if (path !== '/api/chat.postMessage' && path !== '/api/chat.update') return json({ ok: false, error: 'unknown_method' });
    const problem = slackBlocksProblem(body);
    if (problem) return json({ ok: false, error: problem });
    if (typeof body.channel !== 'string' || body.channel === '#archived') return json({ ok: false, error: 'channel_not_found' });
    if (path === '/api/chat.update' && typeof body.ts !== 'string') return json({ ok: false, error: 'message_not_found' });
    // A user id posts a direct message from the app: Slack answers with the DM channel's id (D…),
    // and only that id works for chat.update and thread replies.
    const userId = /^[UW][A-Z0-9]+$/.exec(body.channel)?.[0];
    if (userId && (path === '/api/chat.update' || body.thread_ts !== undefined)) return json({ ok: false, error: 'channel_not_found' });
    const channel = body.channel.startsWith('#') ? 'C0INCIDENTS' : userId ? `D${userId.slice(1)}` : body.channel;
    return json({ ok: true, channel, ts: path === '/api/chat.update' ? body.ts : `${ts++}.000100` });
  }).listen();
}

// ------------------------------------------------------------------ PagerDuty

export const PAGERDUTY_KEY = 'R0UTINGKEY0123456789ABCDEFGHIJKL'; // 32 chars

/** Events API v2: 202 on success, 400 `invalid event` naming what is wrong. */
export function pagerDutyFake(): Promise<FakeTarget> {
  return new FakeTarget((_path, body) => {
    const errors: string[] = [];
    if (typeof body !== 'object' || body === null) errors.push('body must be JSON');
    else {
      if (typeof body.routing_key !== 'string' || body.routing_key.length !== 32) errors.push('routing_key is missing or invalid');
      if (!['trigger', 'acknowledge', 'resolve'].includes(body.event_action)) errors.push('event_action is invalid');
      if (body.dedup_key !== undefined && (typeof body.dedup_key !== 'string' || body.dedup_key.length > 255)) errors.push('dedup_key is invalid');
      if (body.event_action === 'trigger') {
        const p = body.payload;
        if (typeof p !== 'object' || p === null) errors.push('payload is required');
        else {
          if (typeof p.summary !== 'string' || p.summary.length === 0 || p.summary.length > 1024) errors.push('payload.summary is invalid');
          if (typeof p.source !== 'string' || p.source.length === 0) errors.push('payload.source is required');
          if (!['critical', 'error', 'warning', 'info'].includes(p.severity)) errors.push('payload.severity is invalid');
        }
      } else if (typeof body.dedup_key !== 'string') errors.push('dedup_key is required');
      if (
        body.links !== undefined &&
        (!Array.isArray(body.links) ||
          body.links.some(
            (l: any) => typeof l !== 'object' || l === null || typeof l.href !== 'string' || (l.text !== undefined && typeof l.text !== 'string'),
          ))
      ) {
        errors.push('links must be a list of {href, text}');
      }
      if (JSON.stringify(body).length > 512 * 1024) errors.push('event is too large');
    }
    if (errors.length > 0) return { status: 400, body: JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors }) };
    return { status: 202, body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: body.dedup_key }) };
  }).listen();
}

// ------------------------------------------------------------------ webhook

/** A Standard Webhooks signing secret for tests, in the variable the config names by default. */
export const WEBHOOK_SIGNING_ENV = { WEBHOOK_SIGNING_SECRETS: `whsec_${Buffer.from('test-signing-key-0123456789abcdef').toString('base64')}` };

export function webhookSink(): Promise<FakeTarget> {
  return new FakeTarget((_path, body) => (typeof body === 'object' ? { status: 200, body: '' } : { status: 400, body: 'expected JSON' })).listen();
}

// ------------------------------------------------------------------ SMTP

export interface ReceivedMail {
  envelopeTo: string[];
  user: string | undefined;
  secure: boolean;
  mail: ParsedMail;
}

/** A real SMTP server: STARTTLS (its built-in certificate) and required authentication. */
export class FakeSmtp {
  readonly received: ReceivedMail[] = [];
  /** SMTP reply code to refuse the next messages with (e.g. 451 transient, 550 permanent). */
  readonly refuse: number[] = [];
  private readonly server: SMTPServer;

  constructor(
    readonly user: string,
    readonly password: string,
  ) {
    this.server = new SMTPServer({
      secure: false,
      authOptional: false,
      allowInsecureAuth: false,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === user && auth.password === password) callback(null, { user: auth.username });
        else callback(new Error('Invalid username or password'));
      },
      onData: (stream, session, callback) => {
        const code = this.refuse.shift();
        simpleParser(stream)
          .then((mail) => {
            if (code) {
              const err = new Error(code >= 500 ? 'mailbox unavailable' : 'try again later') as Error & { responseCode: number };
              err.responseCode = code;
              callback(err);
              return;
            }
            this.received.push({
              envelopeTo: session.envelope.rcptTo.map((r) => r.address),
              user: session.user as string | undefined,
              secure: session.secure,
              mail,
            });
            callback();
          })
          .catch(callback);
      },
    });
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server.server, 'listening');
    return this;
  }

  get port(): number {
    return (this.server.server.address() as AddressInfo).port;
  }

  async waitFor(count: number, ms = 15_000): Promise<ReceivedMail[]> {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} emails, got ${this.received.length}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.received;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
