'use strict';
/**
 * The service under real faults, at a larger scale than the tests, for docs/operations.md
 * ("Failure modes"). Needs the build (npm run build). Loopback only.
 *
 *   node bench/faults.js --scenario receiver --channel webhook --outage 600 --n 3000
 *       a receiver outage during a burst: the target is down (webhook: connections refused;
 *       slack: 503; pagerduty: 500) from before the burst for --outage seconds, then answers.
 *       Reports dead letters, duplicates, attempts spent, and when every page arrived after the
 *       receiver's return.
 *   node bench/faults.js --scenario postgres --outage 10 --rate 100 --secs 30
 *       PostgreSQL lost during a steady stream of alerts: a TCP proxy between the service and
 *       PostgreSQL ($BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test, in a
 *       schema of its own) refuses for --outage seconds. Reports the answers clients got, what
 *       was lost, when the service served again, and the deliveries made.
 *   node bench/faults.js --scenario sigterm --clients 64
 *       SIGTERM while clients on kept-alive connections send alerts: every answer, and every
 *       request cut off.
 *
 * One JSON line of figures per run.
 */
const http = require('node:http');
const net = require('node:net');
const { randomBytes } = require('node:crypto');
const { assertLoopback, freePort, parseArgs, startService } = require('./lib');

const opts = parseArgs({ scenario: 'receiver', channel: 'webhook', outage: 600, n: 3000, c: 32, rate: 100, secs: 30, clients: 64, settle: 300 });
const SIGNING = `whsec_${randomBytes(32).toString('base64')}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One request with the service's key; resolves with the status and parsed body, or the socket error. */
function call(agent, url, method, path, body, key) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      `${url}${path}`,
      { method, agent, headers: { authorization: `Bearer ${key}`, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          let parsed;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString());
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode, body: parsed, headers: res.headers });
        });
        res.on('error', (err) => resolve({ error: err.code || err.message }));
      },
    );
    req.on('error', (err) => resolve({ error: err.code || err.message }));
    req.end(data);
  });
}

/** A receiver that can be down (connections refused), failing (a status), or up; it records each accepted request. */
async function startReceiver(channel) {
  const accepted = [];
  let attempts = 0;
  let failWith = 0;
  const okStatus = channel === 'pagerduty' ? 202 : 200;
  const okBody = channel === 'pagerduty' ? JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: 'x' }) : channel === 'slack' ? 'ok' : '';
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      attempts += 1;
      if (failWith) {
        res.writeHead(failWith, { 'content-type': 'text/plain' });
        return res.end('unavailable');
      }
      accepted.push({ at: Date.now(), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(okStatus, { 'content-type': channel === 'pagerduty' ? 'application/json' : 'text/plain' });
      res.end(okBody);
    });
  });
  server.keepAliveTimeout = 60_000;
  const port = await freePort();
  const listen = () => new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    accepted,
    attempts: () => attempts,
    /** webhook: the port refuses; others: answer `status`. */
    down: async (status) => {
      if (status) failWith = status;
      else {
        const closed = new Promise((resolve) => server.close(resolve));
        server.closeAllConnections();
        await closed;
      }
    },
    up: async () => {
      if (failWith) failWith = 0;
      else await listen();
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function channelEnv(channel, receiver) {
  switch (channel) {
    case 'webhook':
      return {
        LLM_IM__NOTIFICATIONS__WEBHOOK_ENABLED: 'true',
        LLM_IM__NOTIFICATIONS__DEFAULT_WEBHOOK_URL: `${receiver.url}/hook`,
        WEBHOOK_SIGNING_SECRETS: SIGNING,
      };
    case 'slack':
      return { LLM_IM__NOTIFICATIONS__SLACK_ENABLED: 'true', SLACK_WEBHOOK_URL: `${receiver.url}/services/T0/B0/bench`, SLACK_BOT_TOKEN: '' };
    case 'pagerduty':
      return {
        LLM_IM__NOTIFICATIONS__PAGERDUTY_ENABLED: 'true',
        LLM_IM__NOTIFICATIONS__PAGERDUTY_API_URL: `${receiver.url}/v2/enqueue`,
        PAGERDUTY_INTEGRATION_KEY: 'R0UTINGKEY0123456789ABCDEFGHIJKL',
      };
    default:
      throw new Error(`unknown channel ${channel}`);
  }
}

const alertOf = (i, tag) => ({
  source: 'bench-faults',
  title: `${tag} ${i}`,
  description: 'fault benchmark',
  // A third are pages: the first notification of a P1 (PagerDuty is paged for P0/P1 only).
  severity: i % 3 === 0 ? 'P1' : 'P3',
  alert_type: 'Application',
  labels: { n: String(i) },
});

/** Which alert a received message is about: its title carries the number. */
function alertNumber(body, tag) {
  const match = new RegExp(`${tag} (\\d+)`).exec(body);
  return match ? Number(match[1]) : -1;
}

/** Failed attempts (result retry or permanent) the service made on the channel so far, from its metrics. */
async function failedAttempts(service, agent) {
  const res = await new Promise((resolve) => {
    http.get(`${service.url}/metrics`, { agent, headers: { authorization: `Bearer ${service.key}` } }, (r) => {
      let text = '';
      r.on('data', (d) => (text += d));
      r.on('end', () => resolve(text));
    });
  });
  let total = 0;
  for (const m of res.matchAll(new RegExp(`^llm_im_delivery_attempts_total\\{channel="${opts.channel}",result="(retry|permanent)"\\} (\\d+)$`, 'gm')))
    total += Number(m[2]);
  return total;
}

async function deliveryCounts(service, agent) {
  const stats = (await call(agent, service.url, 'GET', '/v1/notifications/stats', undefined, service.key)).body;
  const c = stats.channels[opts.channel];
  return {
    pending: c.pending,
    sending: c.sending,
    sent: c.sent,
    failed: c.failed,
    cancelled: c.cancelled,
    retried: c.retried,
    degraded: stats.degraded_targets.length,
  };
}

async function receiverScenario() {
  const receiver = await startReceiver(opts.channel);
  const service = await startService(channelEnv(opts.channel, receiver));
  assertLoopback(service.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.c });
  const tag = `fault-${randomBytes(3).toString('hex')}`;
  try {
    await receiver.down(opts.channel === 'webhook' ? 0 : opts.channel === 'slack' ? 503 : 500);
    const downAt = Date.now();
    let next = 0;
    const refused = [];
    await Promise.all(
      Array.from({ length: opts.c }, async () => {
        while (next < opts.n) {
          const i = next++;
          const res = await call(agent, service.url, 'POST', '/v1/alerts', alertOf(i, tag), service.key);
          if (res.status !== 200) refused.push(res.status ?? res.error);
        }
      }),
    );
    const burstSecs = (Date.now() - downAt) / 1000;
    while (Date.now() - downAt < opts.outage * 1000) await sleep(1000);
    const during = await deliveryCounts(service, agent);
    const attemptsDuring = receiver.attempts();
    const failedDuring = await failedAttempts(service, agent);
    const upAt = Date.now();
    await receiver.up();
    // Until nothing waits any more (or --settle seconds).
    let counts = during;
    while (Date.now() - upAt < opts.settle * 1000) {
      counts = await deliveryCounts(service, agent);
      if (counts.pending + counts.sending === 0) break;
      await sleep(500);
    }
    const firstArrival = new Map();
    let duplicates = 0;
    for (const { at, body } of receiver.accepted) {
      const i = alertNumber(body, tag);
      if (i < 0) continue;
      if (firstArrival.has(i)) duplicates += 1;
      else firstArrival.set(i, at);
    }
    const pages = [...Array(opts.n).keys()].filter((i) => i % 3 === 0);
    const pageDelays = pages.filter((i) => firstArrival.has(i)).map((i) => (firstArrival.get(i) - upAt) / 1000);
    console.log(
      JSON.stringify({
        scenario: 'receiver',
        channel: opts.channel,
        outage_secs: opts.outage,
        alerts: opts.n,
        refused_alerts: refused.length,
        burst_secs: burstSecs,
        requests_reaching_receiver_during_outage: attemptsDuring,
        failed_attempts_during_outage: failedDuring,
        delivered: firstArrival.size,
        dead_letters: counts.failed,
        still_waiting: counts.pending + counts.sending,
        duplicates,
        pages: pages.length,
        pages_delivered: pageDelays.length,
        last_page_secs_after_return: pageDelays.length ? Math.max(...pageDelays) : null,
        all_delivered_secs_after_return: firstArrival.size ? (Math.max(...firstArrival.values()) - upAt) / 1000 : null,
      }),
    );
  } finally {
    agent.destroy();
    await service.stop();
    receiver.close();
  }
}

/** A TCP proxy that can refuse (its port closed) and come back on the same port. */
async function startProxy(host, port) {
  const sockets = new Set();
  const make = () =>
    net.createServer((client) => {
      const upstream = net.createConnection(port, host);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ]) {
        sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          sockets.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
  let server = make();
  const own = await freePort();
  await new Promise((resolve) => server.listen(own, '127.0.0.1', resolve));
  return {
    port: own,
    cut: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
    restore: async () => {
      server = make();
      await new Promise((resolve) => server.listen(own, '127.0.0.1', resolve));
    },
    close: () => server.close(),
  };
}

async function postgresScenario() {
  const { Client } = require('pg');
  const base = new URL(process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test');
  const schema = `bench_faults_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  const proxy = await startProxy(base.hostname, Number(base.port || 5432));
  const url = new URL(base.toString());
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const receiver = await startReceiver('webhook');
  const service = await startService({ ...channelEnv('webhook', receiver), LLM_IM__STORAGE__DRIVER: 'postgres', DATABASE_URL: url.toString() });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const tag = `pg-${randomBytes(3).toString('hex')}`;
  const answers = { ok: 0, store_unavailable: 0, other: [] };
  const accepted = new Set();
  let cutAt = 0;
  let restoredAt = 0;
  let firstOkAfterRestore = 0;
  try {
    const started = Date.now();
    const sends = [];
    for (let i = 0; Date.now() - started < opts.secs * 1000; i++) {
      const due = started + (i * 1000) / opts.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      if (!cutAt && Date.now() - started >= 5000) {
        cutAt = Date.now();
        void proxy.cut();
      }
      if (cutAt && !restoredAt && Date.now() - cutAt >= opts.outage * 1000) {
        restoredAt = Date.now();
        void proxy.restore();
      }
      sends.push(
        call(agent, service.url, 'POST', '/v1/alerts', { ...alertOf(i, tag), severity: 'P2' }, service.key).then((res) => {
          if (res.status === 200) {
            answers.ok += 1;
            accepted.add(res.body.incident_id);
            if (restoredAt && !firstOkAfterRestore) firstOkAfterRestore = Date.now();
          } else if (res.status === 503 && res.body?.error?.code === 'STORE_UNAVAILABLE') answers.store_unavailable += 1;
          else answers.other.push(res.status ?? res.error);
        }),
      );
    }
    await Promise.all(sends);
    let statuses = {};
    for (let t = 0; t < 120; t++) {
      const rows = await admin.query(`select status, count(*)::int as n from ${schema}.notification_deliveries group by status`);
      statuses = Object.fromEntries(rows.rows.map((r) => [r.status, r.n]));
      if (!statuses.pending && !statuses.sending) break;
      await sleep(500);
    }
    const stored = new Set((await admin.query(`select id from ${schema}.incidents`)).rows.map((r) => r.id));
    const lost = [...accepted].filter((id) => !stored.has(id)).length;
    const alive = (() => {
      try {
        process.kill(service.pid, 0);
        return true;
      } catch {
        return false;
      }
    })();
    console.log(
      JSON.stringify({
        scenario: 'postgres',
        outage_secs: opts.outage,
        rate: opts.rate,
        secs: opts.secs,
        process_alive: alive,
        answered_2xx: answers.ok,
        answered_503_store_unavailable: answers.store_unavailable,
        other_answers: answers.other.length,
        other_examples: answers.other.slice(0, 5),
        lost_after_2xx: lost,
        serving_again_secs_after_restore: firstOkAfterRestore ? (firstOkAfterRestore - restoredAt) / 1000 : null,
        deliveries: statuses,
        webhooks_received: receiver.accepted.length,
      }),
    );
  } finally {
    agent.destroy();
    await service.stop();
    receiver.close();
    proxy.close();
    await admin.query(`drop schema ${schema} cascade`).catch(() => undefined);
    await admin.end();
  }
}

async function sigtermScenario() {
  const receiver = await startReceiver('webhook');
  const service = await startService(channelEnv('webhook', receiver));
  const tag = `term-${randomBytes(3).toString('hex')}`;
  const outcomes = new Map();
  const count = (k) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  let gone = false;
  let sent = 0;
  let termAt = 0;
  const exited = new Promise((resolve) => {
    const timer = setInterval(() => {
      try {
        process.kill(service.pid, 0);
      } catch {
        clearInterval(timer);
        gone = true;
        resolve(Date.now());
      }
    }, 20);
  });
  const clients = Array.from({ length: opts.clients }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (!gone) {
      const res = await call(agent, service.url, 'POST', '/v1/alerts', alertOf(sent++, tag), service.key);
      if (res.error) {
        count(`error ${res.error}`);
        if (res.error === 'ECONNREFUSED') break;
      } else
        count(
          `${res.status}${res.body?.error ? ` ${res.body.error.code}` : ''}${termAt ? ` after SIGTERM${res.headers.connection === 'close' ? ', connection: close' : ''}` : ''}`,
        );
    }
    agent.destroy();
  });
  await sleep(3000);
  termAt = Date.now();
  process.kill(service.pid, 'SIGTERM');
  const exitAt = await exited;
  await Promise.all(clients);
  receiver.close();
  console.log(
    JSON.stringify({ scenario: 'sigterm', clients: opts.clients, exit_secs_after_sigterm: (exitAt - termAt) / 1000, outcomes: Object.fromEntries(outcomes) }),
  );
}

const scenarios = { receiver: receiverScenario, postgres: postgresScenario, sigterm: sigtermScenario };
if (!scenarios[opts.scenario]) throw new Error(`--scenario must be one of ${Object.keys(scenarios).join(', ')}`);
scenarios[opts.scenario]().catch((err) => {
  console.error(err);
  process.exit(1);
});
