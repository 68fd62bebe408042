import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, RunningApp, startApp, TestStore } from './support/harness';

/**
 * The real senders from Debian's packages (prometheus, prometheus-alertmanager; .ci/run installs
 * them): Prometheus evaluates a rule on a metric this test controls, Alertmanager routes the alert
 * to the service's webhook receiver and, through its own PagerDuty client, to the Events API v2
 * route; the incidents open and later resolve by themselves. Prometheus also
 * scrapes the service's /metrics with a key. One store (SQLite): what is tested is the senders'
 * side; the receiver's storage is covered on both stores in integrations.spec.
 */
describe('a real Prometheus and Alertmanager in front of the service', () => {
  let store: TestStore;
  let running: RunningApp;
  let dir: string;
  let target: Server;
  let errorRatio = 0.2;
  const children: ChildProcess[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llm-im-prom-'));
    store = await TestStore.create('sqlite');
    running = await startApp(store);
    target = createServer((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(`# TYPE checkout_errors_ratio gauge\ncheckout_errors_ratio ${errorRatio}\n`);
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))));
    await new Promise((resolve) => target.close(resolve));
    await running.close();
    await store.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  function run(binary: string, args: string[]): void {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d) => logs.push(String(d)));
    child.stderr?.on('data', (d) => logs.push(String(d)));
    children.push(child);
  }

  async function key(scopes: string[]): Promise<string> {
    return (
      await running.http
        .post('/v1/api-keys')
        .send({ name: scopes.join('+'), scopes })
        .expect(201)
    ).body.key as string;
  }

  /** Polls until `probe` returns a value, or fails with what the senders logged. */
  async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > until) throw new Error(`${what} did not happen within ${timeoutMs} ms; sender logs:\n${logs.join('').slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('opens incidents from a firing rule (webhook and PagerDuty receivers), resolves them when the rule stops, and is scraped', async () => {
    const servicePort = (running.app.getHttpServer().address() as AddressInfo).port;
    const targetPort = (target.address() as AddressInfo).port;
    const [amPort, promPort] = [await freePort(), await freePort()];
    const [alertsKey, metricsKey] = [await key(['alerts:write']), await key(['metrics:read'])];

    writeFileSync(
      join(dir, 'alertmanager.yml'),
      `route:
  receiver: incident-manager
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: incident-manager
      continue: true
    - receiver: incident-manager-as-pagerduty
receivers:
  - name: incident-manager
    webhook_configs:
      - url: http://127.0.0.1:${servicePort}/v1/integrations/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: ${alertsKey}
  # Alertmanager's own PagerDuty client, pointed at the service's Events API v2 route.
  - name: incident-manager-as-pagerduty
    pagerduty_configs:
      - routing_key: ${alertsKey}
        url: http://127.0.0.1:${servicePort}/v2/enqueue
        severity: critical
        send_resolved: true
`,
    );
    writeFileSync(
      join(dir, 'rules.yml'),
      `groups:
  - name: checkout
    rules:
      - alert: CheckoutErrorRate
        expr: checkout_errors_ratio > 0.05
        labels:
          severity: critical
          service: checkout
          incident_type: Application
        annotations:
          summary: Checkout error ratio above 5%
          description: 'ratio is {{ $value }}'
          runbook_url: https://runbooks.example/checkout
`,
    );
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [${join(dir, 'rules.yml')}]
alerting:
  alertmanagers:
    - static_configs: [{ targets: ['127.0.0.1:${amPort}'] }]
scrape_configs:
  - job_name: checkout
    static_configs: [{ targets: ['127.0.0.1:${targetPort}'] }]
  - job_name: incident-manager
    authorization: { credentials: ${metricsKey} }
    static_configs: [{ targets: ['127.0.0.1:${servicePort}'] }]
`,
    );
    run('/usr/bin/prometheus-alertmanager', [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'am')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    run('/usr/bin/prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--rules.alert.resend-delay=1s',
    ]);

    const incident = await eventually('an incident from Alertmanager', async () => {
      const { items } = (await running.http.get('/v1/incidents?source=alertmanager')).body;
      return items[0];
    });
    expect(incident).toMatchObject({
      title: 'Checkout error ratio above 5%',
      description: 'ratio is 0.2',
      severity: 'P1',
      incident_type: 'Application',
      state: 'Detected',
    });
    expect(incident.labels).toMatchObject({ alertname: 'CheckoutErrorRate', job: 'checkout', severity: 'critical' });
    const [alert] = (await running.http.get(`/v1/incidents/${incident.id}/alerts`)).body;
    expect(alert.runbook_url).toBe('https://runbooks.example/checkout');
    expect(alert.annotations.generatorURL).toContain(`:${promPort}/graph`);

    errorRatio = 0;
    const resolved = await eventually('the incident resolving by itself', async () => {
      const detail = (await running.http.get(`/v1/incidents/${incident.id}`)).body;
      return detail.state === 'Resolved' ? detail : undefined;
    });
    expect(resolved.resolution).toMatchObject({ method: 'Automated', resolved_by: 'alertmanager' });
    // The same alert through Alertmanager's PagerDuty receiver: triggered, then resolved, by its dedup_key.
    const paged = await eventually('the PagerDuty-path incident resolving', async () => {
      const { items } = (await running.http.get('/v1/incidents?source=pagerduty')).body;
      return items[0]?.state === 'Resolved' ? items[0] : undefined;
    });
    expect(paged).toMatchObject({ title: expect.stringContaining('CheckoutErrorRate'), severity: 'P0', alert_count: 1 });
    expect(paged.resolution).toMatchObject({ method: 'Automated' });
    // Alertmanager's repeats of the firing alert did not count again; one firing, one incident.
    expect(resolved.alert_count).toBe(1);
    expect((await running.http.get('/v1/incidents?source=alertmanager')).body.total).toBe(1);

    // Prometheus scraped the service with its key: the alert shows in the service's own counter.
    const value = await eventually('a scraped value of llm_im_alerts_received_total', async () => {
      const query = encodeURIComponent('sum(llm_im_alerts_received_total{integration="alertmanager",result="accepted"})');
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${query}`);
      const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
      return body.data.result[0]?.value[1];
    });
    expect(Number(value)).toBeGreaterThanOrEqual(1);
  });
});
