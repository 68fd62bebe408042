/**
 * compose.yaml, checked without a container engine (none runs on CI's machines, and Debian's
 * podman-compose 1.0.3 has no `config` command and creates volumes even with --dry-run): the
 * file parses, every service has a health check, every image is pinned, every file it mounts
 * exists, the ports agree with the Dockerfile and the default configuration, and the
 * Prometheus and Alertmanager files it mounts point at the names and ports compose gives.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { parse as parseToml } from 'smol-toml';
import { loadConfig } from '../src/config/config.loader';

const ROOT = join(__dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  build?: string | { context: string; dockerfile?: string };
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  secrets?: ({ source: string; target?: string } | string)[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  networks?: Record<string, { aliases?: string[] }>;
  command?: string[];
}

interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file?: string }>;
}

/** YAML merge keys (`<<: *anchor`), as Compose applies them: js-yaml 5 leaves them as a key. */
function merged(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(merged);
  if (value === null || typeof value !== 'object') return value;
  const { '<<': base, ...own } = value as Record<string, unknown>;
  const inherited: Record<string, unknown> = base ? (merged(base) as Record<string, unknown>) : {};
  return { ...inherited, ...Object.fromEntries(Object.entries(own).map(([k, v]) => [k, merged(v)])) };
}

const compose = merged(load(read('compose.yaml'))) as Compose;
const services = compose.services;
const instances = ['llm-incident-manager-a', 'llm-incident-manager-b'];

describe('compose.yaml', () => {
  it('runs PostgreSQL, two instances of the service on it, Prometheus and Alertmanager, each with a health check', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'llm-incident-manager-a', 'llm-incident-manager-b', 'postgres', 'prometheus']);
    for (const [name, service] of Object.entries(services)) {
      expect({ name, test: service.healthcheck?.test?.[0] }).toEqual({ name, test: 'CMD' });
    }
    for (const name of instances) {
      const service = services[name];
      expect(service.build).toBe('.');
      expect(service.environment).toMatchObject({ LLM_IM__STORAGE__DRIVER: 'postgres', LLM_IM_BOOTSTRAP_KEY_FILE: '/run/secrets/llm-im.key' });
      // The URL names the compose service of PostgreSQL, its user and database.
      expect(service.environment?.DATABASE_URL).toMatch(/^postgres:\/\/llm_im:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/llm_im$/);
      expect(service.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
      expect(service.networks?.default?.aliases).toEqual(['llm-incident-manager']);
    }
    expect(services.postgres.environment).toMatchObject({ POSTGRES_USER: 'llm_im', POSTGRES_DB: 'llm_im' });
  });

  it("runs the image's own health check, which the Dockerfile builds", () => {
    const dockerfile = read('Dockerfile');
    const healthcheck = /^HEALTHCHECK[^\n]*\\\n\s+CMD (\[.*\])$/m.exec(dockerfile);
    expect(healthcheck).not.toBeNull();
    const command = JSON.parse(healthcheck![1]) as string[];
    expect(command).toEqual(['node', 'dist/health/healthcheck.js']);
    expect(existsSync(join(ROOT, 'src/health/healthcheck.ts'))).toBe(true);
    for (const name of instances) expect(services[name].healthcheck?.test).toEqual(['CMD', ...command]);
  });

  it('pins every image it pulls, and builds its own from this repository', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        expect(existsSync(join(ROOT, typeof service.build === 'string' ? service.build : service.build.context, 'Dockerfile'))).toBe(true);
        continue;
      }
      // registry/name:version, never latest or a bare name.
      expect({ name, image: service.image }).toEqual({ name, image: expect.stringMatching(/^[a-z0-9.-]+\/[a-z0-9/_-]+:v?\d+(\.\d+)+(-[a-z0-9]+)?$/) });
    }
  });

  it('mounts only files that exist here, and declares every named volume and secret', () => {
    const named = new Set(Object.keys(compose.volumes));
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('./')) expect({ name, source, exists: existsSync(join(ROOT, source)) }).toEqual({ name, source, exists: true });
        else expect({ name, source, declared: named.has(source) }).toEqual({ name, source, declared: true });
      }
      for (const secret of service.secrets ?? []) {
        const source = typeof secret === 'string' ? secret : secret.source;
        expect(compose.secrets[source]).toBeDefined();
      }
    }
    // The key file is the operator's to make (.env.example says how), and stays out of git and the image.
    expect(compose.secrets.llm_im_key).toEqual({ file: './llm-im.key' });
    expect(read('.gitignore').split('\n')).toEqual(expect.arrayContaining(['llm-im.key', '.env']));
    expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['llm-im.key', '.env']));
    expect(read('.env.example')).toMatch(/^POSTGRES_PASSWORD=$/m);
    expect(read('.env.example')).toContain('npm run --silent keys -- generate > llm-im.key');
  });

  it('makes a key file with the documented command that the service reads as its bootstrap key (LLM_IM_BOOTSTRAP_KEY_FILE)', () => {
    const command = /^#\s+(npm run --silent keys -- generate) > llm-im\.key$/m.exec(read('.env.example'))![1];
    const dir = mkdtempSync(join(tmpdir(), 'compose-key-'));
    try {
      const file = join(dir, 'llm-im.key');
      execFileSync('sh', ['-c', `${command} > '${file}'`], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
      // The key alone, on one line: npm's banner would make it no key at all.
      expect(readFileSync(file, 'utf8')).toMatch(/^lim_[0-9a-f]{16}_[0-9a-f]{64}\n$/);
      const config = loadConfig({ LLM_IM_BOOTSTRAP_KEY_FILE: file });
      expect(config.secrets.bootstrap_api_key).toBe(readFileSync(file, 'utf8').trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("publishes the service's ports as the Dockerfile exposes them and the default configuration binds them, each host port once", () => {
    const defaults = parseToml(read('config/default.toml')) as { server: { http_port: number; grpc_port: number } };
    const exposed = /^EXPOSE (.+)$/m.exec(read('Dockerfile'))![1].split(/\s+/).map(Number);
    expect(exposed).toEqual([defaults.server.http_port, defaults.server.grpc_port]);
    const hostPorts: string[] = [];
    for (const name of instances) {
      const inside = services[name].ports!.map((p) => Number(p.split(':')[1]));
      expect(inside).toEqual(exposed);
    }
    for (const service of Object.values(services)) hostPorts.push(...(service.ports ?? []).map((p) => p.split(':')[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    expect(services.prometheus.ports).toEqual(['9090:9090']);
    expect(services.alertmanager.ports).toEqual(['9093:9093']);
  });

  it('wires Prometheus and Alertmanager with the files in examples/prometheus, by the names and ports compose gives', () => {
    const mounts = (name: string) => Object.fromEntries((services[name].volumes ?? []).map((v) => [v.split(':')[1], v.split(':')[0]]));
    expect(mounts('prometheus')).toMatchObject({
      '/etc/prometheus/prometheus.yml': './examples/prometheus/prometheus.yml',
      '/etc/prometheus/rules.yml': './examples/prometheus/rules.yml',
    });
    expect(services.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(mounts('alertmanager')).toMatchObject({ '/etc/alertmanager/alertmanager.yml': './examples/prometheus/alertmanager.yml' });
    expect(services.alertmanager.command).toContain('--config.file=/etc/alertmanager/alertmanager.yml');
    const secretPath = (name: string) => {
      const secret = services[name].secrets!.map((s) => (typeof s === 'string' ? { source: s, target: s } : s)).find((s) => s.source === 'llm_im_key')!;
      return `/run/secrets/${secret.target ?? secret.source}`;
    };

    const prometheus = load(read('examples/prometheus/prometheus.yml')) as {
      rule_files: string[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      scrape_configs: { job_name: string; authorization: { credentials_file: string }; dns_sd_configs: { names: string[]; type: string; port: number }[] }[];
    };
    // rules.yml beside prometheus.yml, relative to it.
    expect(prometheus.rule_files).toEqual(['rules.yml']);
    expect(prometheus.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093']);
    const job = prometheus.scrape_configs.find((j) => j.job_name === 'llm-incident-manager')!;
    expect(job.dns_sd_configs).toEqual([{ names: ['llm-incident-manager'], type: 'A', port: 8080 }]);
    expect(job.authorization.credentials_file).toBe(secretPath('prometheus'));

    const alertmanager = load(read('examples/prometheus/alertmanager.yml')) as {
      receivers: { name: string; webhook_configs?: { url: string; http_config: { authorization: { credentials_file: string } } }[] }[];
    };
    const webhook = alertmanager.receivers[0].webhook_configs![0];
    expect(webhook.url).toBe('http://llm-incident-manager:8080/v1/integrations/alertmanager');
    expect(webhook.http_config.authorization.credentials_file).toBe(secretPath('alertmanager'));
    for (const name of instances) expect(secretPath(name)).toBe(services[name].environment!.LLM_IM_BOOTSTRAP_KEY_FILE);
  });
});
