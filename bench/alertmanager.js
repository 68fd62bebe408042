'use strict';
/**
 * The peer for side-by-side runs: Prometheus Alertmanager from Debian's
 * `prometheus-alertmanager`, grouping nothing (`group_by: ['...']`, `group_wait: 0s`), so each
 * alert is one webhook notification to the same sink the service posts to.
 */
const http = require('node:http');
const { spawn, execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { freePort } = require('./lib');

const BINARY = '/usr/bin/prometheus-alertmanager';

function version() {
  try {
    return execFileSync(BINARY, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
  } catch (err) {
    throw new Error(`${BINARY} is missing: apt-get install -y prometheus-alertmanager (${err.message})`);
  }
}

/** `sinkUrl` null: a receiver with no integration, so Alertmanager takes and groups alerts but sends nothing. */
async function startAlertmanager(sinkUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'am-bench-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    [
      'route:',
      '  receiver: sink',
      "  group_by: ['...']",
      '  group_wait: 0s',
      '  group_interval: 5m',
      '  repeat_interval: 4h',
      'receivers:',
      '  - name: sink',
      ...(sinkUrl === null ? [] : ['    webhook_configs:', `      - url: '${sinkUrl}'`, '        send_resolved: false']),
      '',
    ].join('\n'),
  );
  const child = spawn(
    BINARY,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ready = await new Promise((resolve) => {
      http
        .get(`${url}/-/ready`, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
    if (ready) {
      return {
        url,
        pid: child.pid,
        version: version(),
        alertsPath: '/api/v2/alerts',
        /** Alertmanager's API takes arrays of {labels, annotations}; the title label is what the sink matches. */
        body: (alerts) =>
          alerts.map((a) => ({
            labels: { alertname: 'bench', title: a.title, source: a.source, severity: 'warning' },
            annotations: { description: a.description },
          })),
        stop: async () => {
          // Alertmanager writes its state on the way out: remove its folder only once it is gone.
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('alertmanager did not become ready');
}

module.exports = { startAlertmanager };
