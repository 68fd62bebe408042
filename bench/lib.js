'use strict';
/** What the benchmarks share: starting the built service on a temp SQLite file, HTTP, figures. */
const http = require('node:http');
const { execFileSync, spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const net = require('node:net');
const { randomBytes } = require('node:crypto');

/** The admin key a started service is bootstrapped with (LLM_IM_BOOTSTRAP_KEY), or BENCH_API_KEY for --url. */
const BENCH_KEY = process.env.BENCH_API_KEY || `lim_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('hex')}`;

/**
 * The per-key abuse limits are lifted: the benchmarks measure throughput, and one key sending
 * 20,000 alerts as fast as it can is exactly what the limits exist to stop.
 */
const UNLIMITED = {
  LLM_IM__LIMITS__INGEST_RATE_PER_SEC: '1000000',
  LLM_IM__LIMITS__INGEST_BURST: '10000000',
  LLM_IM__LIMITS__MAX_CONCURRENT_REQUESTS_PER_KEY: '100000',
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function startService(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'llm-im-bench-'));
  const port = await freePort();
  const grpcPort = await freePort();
  const child = spawn(
    process.execPath,
    // BENCH_MAIN: another build's dist/main.js (bench/build-ab.js compares two builds).
    [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), process.env.BENCH_MAIN || join(__dirname, '..', 'dist', 'main.js')],
    {
      env: {
        CONFIG_PATH: join(__dirname, '..', 'config', 'default.toml'),
        ...process.env,
        LOG_LEVEL: 'warn',
        // The access log is measured on its own (bench/logging-cost.js), not in every figure.
        LLM_IM__SERVER__ACCESS_LOG: process.env.BENCH_ACCESS_LOG ?? 'false',
        LLM_IM__SERVER__HOST: '127.0.0.1',
        LLM_IM__SERVER__HTTP_PORT: String(port),
        LLM_IM__SERVER__GRPC_PORT: String(grpcPort),
        LLM_IM__STORAGE__DRIVER: 'sqlite',
        LLM_IM__STORAGE__SQLITE_PATH: join(dir, 'bench.db'),
        LLM_IM_BOOTSTRAP_KEY: BENCH_KEY,
        ...UNLIMITED,
        ...extraEnv,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await request(new http.Agent(), 'GET', `${url}/health/ready`);
      return {
        url,
        key: BENCH_KEY,
        grpc: `127.0.0.1:${grpcPort}`,
        pid: child.pid,
        stop: async () => {
          if (process.env.BENCH_CPU_PROFILE || process.env.BENCH_SQL_COUNT) {
            // bench/cpu-profile.js and bench/sql-count.js write their files on SIGUSR2.
            child.kill('SIGUSR2');
            await new Promise((r) => setTimeout(r, 2000));
          }
          child.kill('SIGTERM');
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error('service did not become ready');
}

/** One exchange; `key` is sent as `Authorization: Bearer <key>` (the service's API key). */
function request(agent, method, url, body, key) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = {
      ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    };
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(text === '' ? undefined : JSON.parse(text));
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** Resident memory of a process in MiB; Linux only. */
function rssMiB(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Math.round(Number(line.split(/\s+/)[1]) / 1024);
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) the service process has used so far; Linux only. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Benchmarks target loopback only. */
function assertLoopback(url) {
  if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(url)) throw new Error('benchmark targets loopback only');
}

/** `--key value` options over `defaults`; a default that is a number makes its option a number. */
function parseArgs(defaults, argv = process.argv.slice(2)) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in out)) throw new Error(`unknown option --${key}`);
    out[key] = typeof out[key] === 'string' ? argv[i + 1] : Number(argv[i + 1]);
  }
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One run of bench/alerts.js with single alerts (`opts`: n, c, transport), in `env`; its summary line. */
function singleAlertRun(opts, { env = {}, args = [] } = {}) {
  const out = execFileSync(
    process.execPath,
    [join(__dirname, 'alerts.js'), '--n', String(opts.n), '--c', String(opts.c), '--batch', '1', '--transport', opts.transport, ...args],
    // bench/lib.js starts the service with this process's environment.
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

/**
 * Variants of one service compared in one run, so that machine drift hits each alike: every round
 * runs each variant once, in an order rotated every round (no variant always gets the warmer
 * machine), and prints each run. Answers the runs of each variant, in round order.
 */
function alternate(variants, rounds, runVariant, label = 'variant') {
  const runs = Object.fromEntries(variants.map((v) => [v, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants.map((_, i) => variants[(i + round) % variants.length])) {
      const r = runVariant(variant);
      runs[variant].push(r);
      console.log(
        JSON.stringify({
          round,
          [label]: variant,
          alerts_per_sec: r.alerts_per_sec,
          latency_ms_p50: r.latency_ms_p50,
          service_cpu_us_per_alert: r.service_cpu_us_per_alert,
        }),
      );
    }
  }
  return runs;
}

/** The medians of a variant's runs. */
function mediansOf(runs) {
  return {
    alerts_per_sec: median(runs.map((r) => r.alerts_per_sec)),
    service_cpu_us_per_alert: median(runs.map((r) => r.service_cpu_us_per_alert)),
    latency_ms_p50: median(runs.map((r) => r.latency_ms_p50)),
  };
}

/** Each round's ratio variant / base of `field`: a round's runs are back to back, so its ratio cancels the slower drift. */
function pairedRatios(runs, base, field) {
  return runs.map((r, i) => r[field] / base[i][field]);
}

const rounded = (x, digits = 3) => Number(x.toFixed(digits));

module.exports = {
  parseArgs,
  median,
  singleAlertRun,
  alternate,
  mediansOf,
  pairedRatios,
  rounded,
  BENCH_KEY,
  rssMiB,
  freePort,
  startService,
  request,
  cpuSeconds,
  percentile,
  assertLoopback,
};
