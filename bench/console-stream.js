#!/usr/bin/env node
/**
 * What open consoles cost ingestion: bench/alerts.js against one service in phases with no live
 * stream open and with --streams clients on GET /v1/incidents/events (the console's live list).
 *
 *   node bench/console-stream.js [--streams 50] [--rounds 8] [--n 4000] [--c 32] [--query state=Closed]
 *                            [--encoding gzip|identity] [--reader-nice 19]
 *
 * It starts `node dist/main.js` (run `npm run build` first) once, on a fresh SQLite file, with
 * [limits] max_streams_per_key raised to fit the streams (they share the bench's key). Each round
 * runs two phases of --n single alerts, one without streams and one with them, in a rotated order
 * (ABBA), and the figures are the medians of each round's ratio: phases seconds apart on one
 * process cancel most of the machine's drift, which is 20-40 % between runs minutes apart.
 *
 * The streams are read by a child process that asks for gzip as a browser does (--encoding
 * identity for plain text) and only receives the bytes while the loader runs; after each phase
 * it inflates and counts them: each stream must have seen every new incident and none may have
 * been cut off. A console runs in a browser on another machine; here the readers share the
 * service's two cores, so they run at --reader-nice (19 by default: they take the cycles the
 * service and the loader leave); --reader-nice 0 runs them as equals. Their CPU time is reported
 * apart from the service's. Loopback only; bounded by --n and the rounds.
 */
'use strict';
const http = require('node:http');
const os = require('node:os');
const { fork } = require('node:child_process');
const { constants, gunzipSync } = require('node:zlib');
const { cpuSeconds, median, pairedRatios, parseArgs, rounded, singleAlertRun, startService } = require('./lib');

const DATA = Buffer.from('\ndata: ');
const DETECTED = Buffer.from('"event_type":"incident.detected"');
const CLOSING = Buffer.from('event: closing');

function occurrences(buf, part, from) {
  let n = 0;
  for (let at = buf.indexOf(part, from); at >= 0; at = buf.indexOf(part, at + part.length)) n++;
  return n;
}

/**
 * In the reader process: one stream. While the loader runs, it only receives the bytes (a
 * console parses its events in a browser, on another machine); they are inflated and counted
 * when the phase ends.
 */
function openStream(url, key, query, encoding) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const stream = { req: null, count: () => count(Buffer.concat(chunks), stream.gzip) };
    const req = http.get(
      `${url}/v1/incidents/events${query ? `?${query}` : ''}`,
      { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', 'accept-encoding': encoding } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
        if ((res.headers['content-encoding'] ?? 'identity') !== encoding) return reject(new Error(`stream came ${res.headers['content-encoding']}`));
        stream.gzip = encoding === 'gzip';
        res.on('data', (chunk) => chunks.push(chunk));
        resolve(stream);
      },
    );
    stream.req = req;
    req.on('error', (err) => (stream.req.destroyed ? undefined : reject(err)));
  });
}

/** What a stream received: its events, the new incidents among them, and a closing event if any. */
function count(body, gzip) {
  // The stream is still open: what came so far is inflated as far as it goes (a sync flush ends each write).
  const text = gzip ? gunzipSync(body, { finishFlush: constants.Z_SYNC_FLUSH }) : body;
  const closing = text.indexOf(CLOSING);
  return {
    events: occurrences(text, DATA, 0),
    detected: occurrences(text, DETECTED, 0),
    closed: closing >= 0 ? text.subarray(closing, closing + 300).toString() : null,
  };
}

/** The reader process: opens streams on 'open', reports and closes them on 'close'. */
function readerProcess() {
  let open = [];
  let cpuAtOpen;
  process.on('message', async (msg) => {
    try {
      if (msg.type === 'open') {
        for (let i = 0; i < msg.streams; i++) open.push(await openStream(msg.url, msg.key, msg.query, msg.encoding));
        cpuAtOpen = process.cpuUsage();
        process.send({ type: 'opened' });
      } else if (msg.type === 'close') {
        const cpu = process.cpuUsage(cpuAtOpen);
        const report = open.map((s) => s.count());
        for (const s of open) s.req.destroy();
        open = [];
        process.send({ type: 'closed', streams: report, cpu_secs: (cpu.user + cpu.system) / 1e6 });
      }
    } catch (err) {
      process.send({ type: 'failed', error: String(err) });
    }
  });
}

function ask(reader, msg, answer) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.type !== answer && m.type !== 'failed') return;
      reader.off('message', onMessage);
      m.type === 'failed' ? reject(new Error(m.error)) : resolve(m);
    };
    reader.on('message', onMessage);
    reader.send(msg);
  });
}

async function runPhase(service, reader, streams, opts) {
  if (streams > 0) await ask(reader, { type: 'open', streams, url: service.url, key: service.key, query: opts.query, encoding: opts.encoding }, 'opened');
  const cpuBefore = cpuSeconds(service.pid);
  // Synchronous: this process only waits meanwhile; the readers are another process.
  const result = singleAlertRun({ ...opts, transport: 'rest' }, { env: { BENCH_API_KEY: service.key }, args: ['--url', service.url, '--warmup', '0'] });
  // The last events are still on their way when the loader's last answer arrives: the service's
  // CPU time is counted until they are written (both phases wait the same).
  await new Promise((r) => setTimeout(r, 500));
  const serviceCpu = cpuSeconds(service.pid) - cpuBefore;
  let readerCpu = 0;
  let eventsPerStream = 0;
  if (streams > 0) {
    const closed = await ask(reader, { type: 'close' }, 'closed');
    for (const s of closed.streams) {
      if (s.closed) throw new Error(`a stream was cut off: ${s.closed}`);
      if (!opts.query && s.detected < result.new_incidents) throw new Error(`a stream saw ${s.detected} new incidents of ${result.new_incidents}`);
    }
    readerCpu = closed.cpu_secs;
    eventsPerStream = median(closed.streams.map((s) => s.events));
    // Closed streams are gone from the service before the next phase.
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    alerts_per_sec: result.alerts_per_sec,
    latency_ms_p50: result.latency_ms_p50,
    service_cpu_us_per_alert: Math.round((serviceCpu * 1e6) / result.alerts),
    reader_cpu_us_per_alert: Math.round((readerCpu * 1e6) / result.alerts),
    events_per_stream: eventsPerStream,
  };
}

async function main() {
  const opts = parseArgs({ streams: 50, rounds: 8, n: 4000, c: 32, query: '', encoding: 'gzip', 'reader-nice': 19 });
  const service = await startService({ LLM_IM__LIMITS__MAX_STREAMS_PER_KEY: String(Math.max(16, opts.streams + 4)) });
  const reader = fork(__filename, ['--reader'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  os.setPriority(reader.pid, opts['reader-nice']);
  const variants = [0, opts.streams];
  const runs = { none: [], streams: [] };
  try {
    // A warm-up phase of each kind: the first seconds of a process are its JIT's.
    for (const v of variants) await runPhase(service, reader, v, { ...opts, n: Math.min(opts.n, 2000) });
    for (let round = 1; round <= opts.rounds; round++) {
      for (const v of round % 2 ? variants : [...variants].reverse()) {
        const r = await runPhase(service, reader, v, opts);
        (v === 0 ? runs.none : runs.streams).push(r);
        console.log(JSON.stringify({ round, streams: v, ...r }));
      }
    }
  } finally {
    reader.kill();
    await service.stop();
  }
  const ratio = (field) => rounded(median(pairedRatios(runs.streams, runs.none, field)));
  console.log(
    JSON.stringify({
      streams: opts.streams,
      rounds: opts.rounds,
      n: opts.n,
      reader_nice: opts['reader-nice'],
      encoding: opts.encoding,
      alerts_per_sec: { none: median(runs.none.map((r) => r.alerts_per_sec)), with_streams: median(runs.streams.map((r) => r.alerts_per_sec)) },
      // with streams / without, per round: 0.95 would be the 5 % the issue allows.
      throughput_ratio: ratio('alerts_per_sec'),
      cpu_per_alert_ratio: ratio('service_cpu_us_per_alert'),
      latency_p50_ratio: ratio('latency_ms_p50'),
      reader_cpu_us_per_alert: median(runs.streams.map((r) => r.reader_cpu_us_per_alert)),
    }),
  );
}

if (process.argv[2] === '--reader') readerProcess();
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
