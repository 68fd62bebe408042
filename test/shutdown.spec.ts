import http from 'node:http';
import { WEBHOOK_SIGNING_ENV, webhookSink } from './support/fakes';
import { ADMIN_KEY, alert, TestStore } from './support/harness';
import { isRunning, spawnService } from './support/service-process';

/** What one request came to: an HTTP status (and the error code of a 503), or the socket error. */
type Outcome = { status: number; code?: string; connection?: string } | { error: string };

function post(agent: http.Agent, url: string, body: unknown): Promise<Outcome> {
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = http.request(
      `${url}/v1/alerts`,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let code: string | undefined;
          try {
            code = JSON.parse(text).error?.code;
          } catch {
            code = undefined;
          }
          resolve({ status: res.statusCode ?? 0, code, connection: res.headers.connection });
        });
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(payload);
  });
}

describe('SIGTERM with clients on kept-alive connections', () => {
  let store: TestStore;
  beforeEach(async () => {
    store = await TestStore.create('sqlite');
  });
  afterEach(() => store.destroy());

  it('answers every request 2xx or 503 SHUTTING_DOWN, tells each kept-alive client connection: close, resets none, and exits within the grace time', async () => {
    // A slow receiver keeps deliveries in flight, so shutdown takes a while (the pool lets them finish).
    const sink = await webhookSink();
    sink.delayMs = 1500;
    const service = await spawnService({
      ...store.processEnv(),
      ...WEBHOOK_SIGNING_ENV,
      LLM_IM__NOTIFICATIONS__WEBHOOK_ENABLED: 'true',
      LLM_IM__NOTIFICATIONS__DEFAULT_WEBHOOK_URL: `${sink.url}/hook`,
      LLM_IM__SERVER__ACCESS_LOG: 'false',
    });
    if (!isRunning(service)) throw new Error(`service did not start: ${service.stderr}`);
    const outcomes: Outcome[] = [];
    /** Each client's outcomes, in order. */
    const byClient: Outcome[][] = [];
    let exited = false;
    void service.exited.then(() => (exited = true));
    let sent = 0;
    const clients = Array.from({ length: 8 }, async (_, c) => {
      // One connection per client, kept alive between requests, as a sender's HTTP client does.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const mine: Outcome[] = (byClient[c] = []);
      try {
        while (!exited) {
          const outcome = await post(agent, service.url, alert({ title: `client ${c} alert ${sent++}` }));
          outcomes.push(outcome);
          mine.push(outcome);
          // Once the port refuses, the service is gone for this client.
          if ('error' in outcome && outcome.error === 'ECONNREFUSED') return;
        }
      } finally {
        agent.destroy();
      }
    });
    try {
      while (outcomes.length < 80) await new Promise((resolve) => setTimeout(resolve, 20));
      const termAt = Date.now();
      service.child.kill('SIGTERM');
      const exit = await service.exited;
      const took = Date.now() - termAt;
      await Promise.all(clients);

      expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
      // The documented grace: 10 s for sends in flight, then what is left of requests.
      expect(took).toBeLessThan(15_000);
      const errors = outcomes.filter((o): o is { error: string } => 'error' in o).map((o) => o.error);
      // A request either got an answer or never reached the service (its port closed): none was cut off.
      expect(errors.filter((e) => e !== 'ECONNREFUSED')).toEqual([]);
      const answered = outcomes.filter((o): o is { status: number; code?: string; connection?: string } => 'status' in o);
      expect(answered.filter((o) => o.status !== 200 && !(o.status === 503 && o.code === 'SHUTTING_DOWN'))).toEqual([]);
      for (const o of answered.filter((a) => a.status === 503)) expect(o.connection).toBe('close');
      // A client that went on to find the port closed had been told to close its connection by
      // the answer before (2xx for a request already read, or 503): it was never cut off.
      for (const mine of byClient) {
        const last = mine[mine.length - 1];
        expect(last).toEqual({ error: 'ECONNREFUSED' });
        expect(mine[mine.length - 2]).toMatchObject({ connection: 'close' });
      }
    } finally {
      exited = true;
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
      await sink.close();
    }
  });
});
