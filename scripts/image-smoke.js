#!/usr/bin/env node
// The client side of scripts/image-check.sh, run with this machine's Node.js and the project's
// node_modules against the service started from the image's file system.
//
//   image-smoke.js describe <inspect.json> <mountpoint>
//     prints, as shell assignments, what the image says about itself (size, user, workdir,
//     environment, command, health check), and fails when it runs as root or has no health check;
//   image-smoke.js check --url U --grpc HOST:PORT --key K [--ca CERT] --pid PID --log FILE
//     waits for /health/ready, then checks the process's user, the console at /, an alert through
//     the REST API, the same incident over gRPC, and the startup log's addresses.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const http = require('node:http');
const https = require('node:https');

const READY_WITHIN_MS = 120_000;

function fail(message) {
  process.stderr.write(`[image-smoke] ${message}\n`);
  process.exit(1);
}

function say(message) {
  process.stderr.write(`[image-smoke] ${message}\n`);
}

/** A word for `source` in bash: single-quoted. */
function shellWord(value) {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

function describe(inspectPath, mountpoint) {
  const [image] = [].concat(JSON.parse(readFileSync(inspectPath, 'utf8')));
  const config = image.Config ?? {};
  const user = config.User ?? '';
  if (user === '' || user === 'root' || /^0(:|$)/.test(user)) fail(`the image runs as root (USER '${user}')`);
  const passwd = readFileSync(join(mountpoint, 'etc', 'passwd'), 'utf8');
  const name = user.split(':')[0];
  const entry = passwd.split('\n').find((line) => line.split(':')[0] === name || line.split(':')[2] === name);
  if (!entry) fail(`USER '${user}' is not in the image's /etc/passwd`);
  if (entry.split(':')[2] === '0') fail(`USER '${user}' is uid 0`);
  const test = (image.Healthcheck ?? image.HealthCheck ?? config.Healthcheck ?? {}).Test ?? [];
  let healthcheck;
  if (test[0] === 'CMD') healthcheck = test.slice(1);
  else if (test[0] === 'CMD-SHELL') healthcheck = ['/bin/sh', '-c', test[1]];
  else fail(`the image has no HEALTHCHECK (${JSON.stringify(test)})`);
  const command = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  if (command.length === 0) fail('the image has no CMD');
  const array = (values) => `(${values.map(shellWord).join(' ')})`;
  process.stdout.write(
    [
      `IMAGE_SIZE_MB=${Math.round(image.Size / 1e6)}`,
      `IMAGE_USER=${shellWord(user.includes(':') ? user : `${user}:${user}`)}`,
      `IMAGE_WORKDIR=${shellWord(config.WorkingDir || '/')}`,
      `IMAGE_ENV=${array(config.Env ?? [])}`,
      `IMAGE_CMD=${array(command)}`,
      `IMAGE_HEALTHCHECK=${array(healthcheck)}`,
      '',
    ].join('\n'),
  );
}

function options(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

/** One HTTP(S) request; resolves to { status, headers, body }. */
function request(url, { method = 'GET', headers = {}, body, ca } = {}) {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const req = client.request(url, { method, headers, ca, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

async function waitReady(url, ca, pid) {
  const deadline = Date.now() + READY_WITHIN_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      fail(`the service exited before it was ready (${last})`);
    }
    try {
      const res = await request(`${url}/health/ready`, { ca });
      if (res.status === 200) return;
      last = `${res.status} ${res.body.slice(0, 200)}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  fail(`/health/ready did not answer 200 within ${READY_WITHIN_MS / 1000} s (${last})`);
}

async function check(argv) {
  const opts = options(argv);
  const ca = opts.ca ? readFileSync(opts.ca) : undefined;
  const pid = Number(opts.pid);
  const auth = { authorization: `Bearer ${opts.key}` };
  await waitReady(opts.url, ca, pid);
  say(`${opts.url}/health/ready: 200`);

  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1];
  if (uid === '0') fail('the service runs as root');
  say(`the service runs as uid ${uid}`);

  const page = await request(`${opts.url}/`, { ca });
  if (page.status !== 200 || !/text\/html/.test(page.headers['content-type']) || !page.body.includes('<div id="app">')) {
    fail(`GET / is not the console: ${page.status} ${page.headers['content-type']}`);
  }
  const script = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(page.body);
  if (!script) fail('the console page names no script under /assets/');
  const asset = await request(`${opts.url}${script[1]}`, { ca });
  if (asset.status !== 200) fail(`GET ${script[1]}: ${asset.status} ${JSON.stringify(asset.headers)} ${asset.body.slice(0, 300)}`);
  say(`the console is served at / (and ${script[1]})`);

  const alert = {
    source: 'image-check',
    // Each run its own incident: the fingerprint reads the title, and the database outlives a run.
    title: `Image check ${new Date().toISOString()}: disk almost full on db-1`,
    description: 'sent by scripts/image-check.sh',
    severity: 'P2',
    alert_type: 'Infrastructure',
    affected_services: ['db'],
  };
  const submitted = await request(`${opts.url}/v1/alerts`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(alert),
    ca,
  });
  if (submitted.status !== 200) fail(`POST /v1/alerts: ${submitted.status} ${submitted.body}`);
  const { incident_id: incidentId, status } = JSON.parse(submitted.body);
  if (status !== 'Accepted' || !incidentId) fail(`POST /v1/alerts opened no incident: ${submitted.body}`);
  say(`POST /v1/alerts: ${submitted.status}, incident ${incidentId}`);

  const grpc = require('@grpc/grpc-js');
  const protoLoader = require('@grpc/proto-loader');
  const protoDir = join(__dirname, '..', 'proto');
  const definition = protoLoader.loadSync(join(protoDir, 'incident_manager.proto'), { keepCase: true, longs: Number, enums: String, includeDirs: [protoDir] });
  const { IncidentService } = grpc.loadPackageDefinition(definition).llm_incident_manager.v1;
  const [host, port] = [opts.grpc.slice(0, opts.grpc.lastIndexOf(':')), opts.grpc.slice(opts.grpc.lastIndexOf(':') + 1)];
  // With TLS the certificate names localhost; the address stays the loopback one.
  const target = ca ? `localhost:${port}` : `${host}:${port}`;
  const client = new IncidentService(target, ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${opts.key}`);
  const answer = await new Promise((resolve, reject) =>
    client.GetIncident({ id: incidentId }, metadata, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))),
  ).catch((err) => fail(`gRPC GetIncident on ${target}: ${err.message}`));
  client.close();
  if (answer.incident?.title !== alert.title) fail(`gRPC GetIncident answered ${JSON.stringify(answer.incident)}`);
  say(`gRPC GetIncident on ${target}${ca ? ' (TLS)' : ''}: ${answer.incident.state ?? answer.incident.status} "${answer.incident.title}"`);

  // The startup log names what was actually bound.
  const startup = readFileSync(opts.log, 'utf8')
    .split('\n')
    .find((line) => line.includes('LLM Incident Manager listening'));
  if (!startup) fail('the startup log has no "listening" line');
  if (!startup.includes(`:${new URL(opts.url).port}`) || !startup.includes(`:${port}`)) fail(`the startup log does not name the bound ports: ${startup}`);
  say(`startup log: ${startup.trim().slice(0, 300)}`);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'describe') describe(rest[0], rest[1]);
else if (command === 'check') check(rest).catch((err) => fail(err.stack ?? err.message));
else fail('usage: image-smoke.js describe <inspect.json> <mountpoint> | check --url U --grpc HOST:PORT --key K [--ca CERT] --pid PID --log FILE');
