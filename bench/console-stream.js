#!/usr/bin/env node
/**
 * What open consoles cost ingestion: bench/alerts.js against the service with no live stream
 * open, and with --streams clients on GET /v1/incidents/events (the console's live list), in one
 * run.
 *
 *   node bench/console-stream.js [--streams 50] [--rounds 5] [--n 10000] [--c 32] [--query state=Closed]
 *
 * Each run starts `node dist/main.js` (run `npm run build` first) on a fresh SQLite file with
 * [limits] max_streams_per_key raised to fit the streams (they share the bench's key), opens the
 * streams (each reads every event and counts it) and, once each has its answer head, runs bench/alerts.js --batch 1 against it. The variants
 * alternate, in a rotated order, and the figure is the median of each round's ratio, which cancels
 * the machine's drift. Each stream must have received an event for every new incident and none
 * may have been cut off. Loopback only; bounded by --n and the rounds.
 */
'use strict';
const http = require('node:http');
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { cpuSeconds, median, parseArgs, rounded, startService } = require('./lib');

function occurrences(text, part) {
  let n = 0;
  for (let at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + part.length)) n++;
  return n;
}

function openStream(url, key, query) {
  return new Promise((resolve, reject) => {
    const stream = { events: 0, detected: 0, closed: null, req: null };
    let buffer = '';
    const req = http.get(
      `${url}/v1/incidents/events${query ? `?${query}` : ''}`,
      { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          // Counted, not parsed: a console parses its events in the browser, on another machine.
          buffer += chunk;
          const end = buffer.lastIndexOf('\n\n');
          if (end < 0) return;
          const frames = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frames.includes('event: closing')) stream.closed = frames.slice(frames.indexOf('event: closing'));
          stream.events += occurrences(frames, '\ndata: ') + (frames.startsWith('data: ') ? 1 : 0);
          stream.detected += occurrences(frames, '"event_type":"incident.detected"');
        });
        resolve(stream);
      },
    );
    stream.req = req;
    req.on('error', (err) => (stream.req.destroyed ? undefined : reject(err)));
  });
}

function runAlerts(service, opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'alerts.js'), '--url', service.url, '--n', String(opts.n), '--c', String(opts.c), '--batch', '1'], {
      env: { ...process.env, BENCH_API_KEY: service.key },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`bench/alerts.js exited ${code}`))));
  });
}

async function runVariant(streams, opts) {
  const service = await startService({ LLM_IM__LIMITS__MAX_STREAMS_PER_KEY: String(Math.max(16, streams + 4)) });
  const open = [];
  try {
    for (let i = 0; i < streams; i++) open.push(await openStream(service.url, service.key, opts.query));
    const cpuBefore = cpuSeconds(service.pid);
    const result = await runAlerts(service, opts);
    // The service's own CPU time for the run (its warmup included), per alert measured.
    result.service_cpu_us_per_alert = Math.round(((cpuSeconds(service.pid) - cpuBefore) * 1e6) / result.alerts);
    // The last events are still on their way when the loader's last answer arrives.
    await new Promise((r) => setTimeout(r, 500));
    for (const s of open) {
      if (s.closed) throw new Error(`a stream was cut off: ${s.closed}`);
      // alerts.js's warmup opens incidents too: every stream saw at least the measured ones.
      if (!opts.query && s.detected < result.new_incidents) throw new Error(`a stream saw ${s.detected} new incidents of ${result.new_incidents}`);
    }
    return { ...result, streams, events_per_stream: open.length ? median(open.map((s) => s.events)) : 0 };
  } finally {
    for (const s of open) s.req.destroy();
    await service.stop();
  }
}

async function main() {
  const opts = parseArgs({ streams: 50, rounds: 5, n: 10000, c: 32, query: '' });
  const variants = [0, opts.streams];
  const runs = { [variants[0]]: [], [variants[1]]: [] };
  for (let round = 1; round <= opts.rounds; round++) {
    for (const v of round % 2 ? variants : [...variants].reverse()) {
      const r = await runVariant(v, opts);
      runs[v].push(r);
      console.log(
        JSON.stringify({
          round,
          streams: v,
          alerts_per_sec: r.alerts_per_sec,
          latency_ms_p50: r.latency_ms_p50,
          service_cpu_us_per_alert: r.service_cpu_us_per_alert,
          events_per_stream: r.events_per_stream,
        }),
      );
    }
  }
  const ratio = (field) => rounded(median(runs[variants[1]].map((r, i) => r[field] / runs[variants[0]][i][field])));
  console.log(
    JSON.stringify({
      streams: opts.streams,
      rounds: opts.rounds,
      alerts_per_sec: { none: median(runs[0].map((r) => r.alerts_per_sec)), with_streams: median(runs[variants[1]].map((r) => r.alerts_per_sec)) },
      // with streams / without, per round: 0.95 would be the 5 % the issue allows.
      throughput_ratio: ratio('alerts_per_sec'),
      cpu_per_alert_ratio: ratio('service_cpu_us_per_alert'),
      latency_p50_ratio: ratio('latency_ms_p50'),
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
