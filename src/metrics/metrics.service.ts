import { SEVERITIES } from '../incidents/domain/incident';
import { ACTIVE_STATES } from '../incidents/domain/state-machine';
import { Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { InjectConfig } from '../config/config.module';
import { storeFaultOf } from '../database/store-faults';
import type { AppConfig } from '../config/config.schema';

export const METRIC_PREFIX = 'llm_im_';

/** How an alert reached the service: the REST/gRPC API or one of the integrations' receivers. */
export type AlertIntegration = 'api' | 'alertmanager' | 'grafana' | 'pagerduty';
export type AlertResult = 'accepted' | 'duplicate' | 'rejected';
/** What one attempt came to: the kinds of SendOutcome. */
export type AttemptResultLabel = 'delivered' | 'retry' | 'permanent';
export type DeliveryOutcome = 'sent' | 'retried' | 'failed' | 'cancelled' | 'suppressed';
export type TransactionKind = 'grouped' | 'single';

/**
 * Distinct `source` label values kept per process. Sources are free text from senders: past
 * this many, new ones are counted under "other", so a sender cannot grow the series without end.
 */
export const MAX_SOURCE_LABELS = 20;
export const OTHER_SOURCE = 'other';
/** A longer source is cut: label values are kept in memory per series and sent on every scrape. */
const MAX_SOURCE_LABEL_LENGTH = 64;

/** Open incidents by state and severity, as one grouped query answers them. */
export interface OpenIncidentCount {
  state: string;
  severity: string;
  count: number;
}

/** Delivery figures read at scrape time (the store's rows of every instance, and this pool). */
export interface DeliveryFigures {
  /** Rows per channel that wait to be sent (pending) and that an instance has claimed (sending). */
  channels: Map<string, { pending: number; sending: number }>;
  /** created_at of the oldest pending or sending delivery, or null when there is none. */
  oldestWaitingCreatedAt: string | null;
  /** This instance's pool: claimed deliveries waiting for a slot, and exchanges in flight. */
  pool: { queue_depth: number; in_flight: number };
  /** Deliveries left `sending` past their lease, and the earliest such lease's end. */
  stranded: { count: number; oldestLeaseUntil: string | null };
}

export interface ScrapeSources {
  openIncidents?: () => Promise<OpenIncidentCount[]>;
  deliveries?: () => Promise<DeliveryFigures>;
}

/**
 * The application's Prometheus metrics, on a registry of its own (not prom-client's global one:
 * tests run several applications in one process). When [metrics] enabled is false every
 * recording method returns at once, no hook or collector is installed and nothing is served.
 *
 * The record methods sit on hot paths (every request, alert and transaction), so each keeps
 * the metric's label children in maps: prom-client's labels() validates and builds an object
 * on every call.
 */
@Injectable()
export class MetricsService {
  readonly enabled: boolean;
  readonly registry = new Registry();
  private readonly logger = new Logger('Metrics');
  private readonly sources: ScrapeSources = {};
  /** The figures of the scrape in progress: every gauge of one scrape shares one read. */
  private scrape: Promise<{ incidents?: OpenIncidentCount[]; deliveries?: DeliveryFigures }> | null = null;

  private readonly alerts: Counter<'source' | 'result' | 'integration'>;
  private readonly alertChildren = new Map<string, { inc(n?: number): void }>();
  private readonly sourceLabels = new Set<string>();
  private readonly transitions: Counter<'from' | 'to'>;
  private readonly deliveries: Counter<'channel' | 'outcome'>;
  private readonly attempts: Counter<'channel' | 'result'>;
  private readonly alertToDelivery: Histogram<'channel'>;
  private readonly transactions: Histogram<'kind'>;
  private readonly transactionChildren = new Map<TransactionKind, { observe(v: number): void }>();
  private readonly http: Histogram<'method' | 'route' | 'status'>;
  /** method → route → status → child. */
  private readonly httpChildren = new Map<string, Map<string, Map<number, { observe(v: number): void }>>>();
  private readonly grpcCalls: Counter<'method' | 'code'>;
  private readonly grpcSeconds: Histogram<'method' | 'code'>;
  private readonly grpcChildren = new Map<string, { inc(): void; observe(v: number): void }>();
  private readonly storeUp: Gauge;
  private readonly stalls: Counter;
  private readonly nobodyReached: Counter<'kind'>;
  private readonly storeEpisodes: Counter<'kind'>;

  constructor(@InjectConfig() config: AppConfig) {
    this.enabled = config.metrics.enabled;
    const registers = [this.registry];
    this.alerts = new Counter({
      name: `${METRIC_PREFIX}alerts_received_total`,
      help: 'Alerts received, by source (at most 20 values, then "other"), result (accepted: opened an incident; duplicate: folded into one or already received; rejected: refused by validation or the ingest rate limit) and integration',
      labelNames: ['source', 'result', 'integration'],
      registers,
    });
    this.transitions = new Counter({
      name: `${METRIC_PREFIX}incident_transitions_total`,
      help: 'Incident state changes, by previous state ("none" for a new incident) and new state',
      labelNames: ['from', 'to'],
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}incidents_open`,
      help: 'Incidents not resolved or closed, by state and severity (read from the store at scrape time: the same on every instance)',
      labelNames: ['state', 'severity'],
      registers,
      collect: this.collector(function (this: Gauge<'state' | 'severity'>, figures) {
        if (!figures.incidents) return;
        for (const state of ACTIVE_STATES) for (const severity of SEVERITIES) this.labels(state, severity).set(0);
        for (const row of figures.incidents) this.labels(row.state, row.severity).set(row.count);
      }),
    });
    this.deliveries = new Counter({
      name: `${METRIC_PREFIX}deliveries_total`,
      help: 'Deliveries settled by this instance, by channel and outcome (sent; retried: an attempt failed and another is scheduled; failed: given up; cancelled: dropped because the delivery before it was given up; suppressed: recorded, not sent, while a silence matched)',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.attempts = new Counter({
      name: `${METRIC_PREFIX}delivery_attempts_total`,
      help: 'Delivery attempts made by this instance, by channel and result (delivered, retry: a failure worth retrying, permanent: refused for good)',
      labelNames: ['channel', 'result'],
      registers,
    });
    this.alertToDelivery = new Histogram({
      name: `${METRIC_PREFIX}alert_to_delivery_seconds`,
      help: 'From the incident event that called for a delivery (its row being written) to the delivery being sent, by channel',
      labelNames: ['channel'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}deliveries_pending`,
      help: 'Deliveries waiting to be sent (due now or at a later retry), by channel, in the store',
      labelNames: ['channel'],
      registers,
      collect: this.collector(function (this: Gauge<'channel'>, figures) {
        if (!figures.deliveries) return;
        for (const [channel, c] of figures.deliveries.channels) this.labels(channel).set(c.pending);
      }),
    });
    new Gauge({
      name: `${METRIC_PREFIX}deliveries_in_flight`,
      help: 'Deliveries claimed by an instance (being sent, or waiting in its ready queue), by channel, in the store',
      labelNames: ['channel'],
      registers,
      collect: this.collector(function (this: Gauge<'channel'>, figures) {
        if (!figures.deliveries) return;
        for (const [channel, c] of figures.deliveries.channels) this.labels(channel).set(c.sending);
      }),
    });
    new Gauge({
      name: `${METRIC_PREFIX}oldest_pending_delivery_age_seconds`,
      help: 'Age of the oldest delivery not yet sent, failed or cancelled (pending or sending), from its row being written; 0 when there is none',
      registers,
      collect: this.collector(function (this: Gauge, figures) {
        if (!figures.deliveries) return;
        const oldest = figures.deliveries.oldestWaitingCreatedAt;
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - Date.parse(oldest)) / 1000));
      }),
    });
    new Gauge({
      name: `${METRIC_PREFIX}deliveries_stranded`,
      help: 'Deliveries left sending past their lease (their instance died or lost the store before sending them); any instance claims them again, so a value that stays above 0 means none is claiming',
      registers,
      collect: this.collector(function (this: Gauge, figures) {
        if (figures.deliveries) this.set(figures.deliveries.stranded.count);
      }),
    });
    new Gauge({
      name: `${METRIC_PREFIX}oldest_stranded_delivery_seconds`,
      help: 'How long ago the lease of the oldest delivery left sending ran out; 0 when there is none',
      registers,
      collect: this.collector(function (this: Gauge, figures) {
        if (!figures.deliveries) return;
        const oldest = figures.deliveries.stranded.oldestLeaseUntil;
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - Date.parse(oldest)) / 1000));
      }),
    });
    new Gauge({
      name: `${METRIC_PREFIX}delivery_pool_queue_depth`,
      help: "Deliveries claimed by this instance's pool and waiting for a free exchange slot",
      registers,
      collect: this.collector(function (this: Gauge, figures) {
        if (figures.deliveries) this.set(figures.deliveries.pool.queue_depth);
      }),
    });
    new Gauge({
      name: `${METRIC_PREFIX}delivery_pool_exchanges_in_flight`,
      help: "Exchanges with notification targets in flight in this instance's pool",
      registers,
      collect: this.collector(function (this: Gauge, figures) {
        if (figures.deliveries) this.set(figures.deliveries.pool.in_flight);
      }),
    });
    this.transactions = new Histogram({
      name: `${METRIC_PREFIX}transaction_seconds`,
      help: 'Store transactions, from BEGIN to the end of COMMIT (or the rollback), by kind (grouped: a group commit of several requests; single)',
      labelNames: ['kind'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.http = new Histogram({
      name: `${METRIC_PREFIX}http_requests_seconds`,
      help: 'HTTP requests, from their arrival to the answer sent, by method, route pattern ("unmatched" when no route matched) and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.grpcCalls = new Counter({
      name: `${METRIC_PREFIX}grpc_calls_total`,
      help: 'gRPC calls ended, by method (/package.Service/Method) and status code name',
      labelNames: ['method', 'code'],
      registers,
    });
    this.grpcSeconds = new Histogram({
      name: `${METRIC_PREFIX}grpc_call_seconds`,
      help: 'gRPC calls, from their metadata arriving to their status sent, by method and status code name',
      labelNames: ['method', 'code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300],
      registers,
    });
    this.nobodyReached = new Counter({
      name: `${METRIC_PREFIX}escalation_nobody_reached_total`,
      help: 'Times a route or escalation step that targets people reached nobody, by kind of target (schedule: nobody on call; user: deactivated, unknown or without a usable contact method; team: no active member); at an escalation step the next step of the round is then due at once',
      labelNames: ['kind'],
      registers,
    });
    this.stalls = new Counter({
      name: `${METRIC_PREFIX}event_loop_stalls_total`,
      help: 'Times one task held the event loop for more than 200 ms (each is logged with the HTTP routes then in progress)',
      registers,
    });
    this.storeUp = new Gauge({
      name: `${METRIC_PREFIX}store_up`,
      help: 'Whether the store answers reads and has room for writes, as this instance last saw it (0 during an outage or while the disk is full)',
      registers,
    });
    this.storeEpisodes = new Counter({
      name: `${METRIC_PREFIX}store_faults_total`,
      help: 'Episodes in which the store was unavailable (unreachable, connections cut, I/O errors) or full (no room to write), by kind',
      labelNames: ['kind'],
      registers,
    });
    if (this.enabled) {
      collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
      // Gauges named like counters, which promtool's lint refuses; each is the sum of its
      // per-type gauge (nodejs_active_handles{type} and the others), which stays.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.registry.removeSingleMetric(`${METRIC_PREFIX}${name}`);
      }
    }
  }

  /** Registers what the scrape-time gauges read (each feature module hands in its own query). */
  provide(sources: ScrapeSources): void {
    Object.assign(this.sources, sources);
  }

  /** The exposition text of every metric; the gauges read the store once for the whole scrape. */
  async render(): Promise<string> {
    this.scrape = this.readSources();
    try {
      return await this.registry.metrics();
    } finally {
      this.scrape = null;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  alertReceived(source: string, result: AlertResult, integration: AlertIntegration, count = 1): void {
    if (!this.enabled) return;
    const label = this.sourceLabel(source);
    const key = `${label}\u0000${result}\u0000${integration}`;
    let child = this.alertChildren.get(key);
    if (!child) this.alertChildren.set(key, (child = this.alerts.labels(label, result, integration)));
    child.inc(count);
  }

  /**
   * Runs `check` (a validation, a limit) on alerts before anything is written; if it throws, each
   * of `raw` counts as rejected and the error goes on. The source is each item's `source` when it
   * is a string, or `source` when given (the integrations, whose alerts all have theirs).
   */
  rejectedIfThrows<T>(integration: AlertIntegration, raw: readonly unknown[], check: () => T, source?: string): T {
    const countRefused = () => {
      if (!this.enabled) return;
      for (const item of raw) {
        const given = source ?? (item as { source?: unknown } | null)?.source;
        this.alertReceived(typeof given === 'string' && given.trim() !== '' ? given : 'unknown', 'rejected', integration);
      }
    };
    try {
      const checked = check();
      // A check that runs in slices (a large batch) refuses by rejecting.
      if (checked instanceof Promise) {
        return checked.catch((err: unknown) => {
          countRefused();
          throw err;
        }) as T;
      }
      return checked;
    } catch (err) {
      countRefused();
      throw err;
    }
  }

  eventLoopStall(): void {
    if (this.enabled) this.stalls.inc();
  }

  /** The store's state as StoreHealth sees it: `ok`, or the kind of the episode that just began. */
  storeStatus(status: 'ok' | 'unavailable' | 'full'): void {
    if (!this.enabled) return;
    this.storeUp.set(status === 'ok' ? 1 : 0);
    if (status !== 'ok') this.storeEpisodes.labels(status).inc();
  }

  incidentTransition(from: string | null, to: string): void {
    if (!this.enabled) return;
    this.transitions.labels(from ?? 'none', to).inc();
  }

  deliveryAttempt(channel: string, result: AttemptResultLabel): void {
    if (!this.enabled) return;
    this.attempts.labels(channel, result).inc();
  }

  deliverySettled(channel: string, outcome: DeliveryOutcome, count = 1): void {
    if (!this.enabled || count === 0) return;
    this.deliveries.labels(channel, outcome).inc(count);
  }

  /** Deliveries a silence kept back, counted when they are written. */
  nobodyReachedBy(kind: 'user' | 'schedule' | 'team'): void {
    if (this.enabled) this.nobodyReached.labels(kind).inc();
  }

  deliveriesSuppressed(rows: readonly { channel: string }[]): void {
    if (!this.enabled) return;
    for (const row of rows) this.deliveries.labels(row.channel, 'suppressed').inc();
  }

  deliverySent(channel: string, createdAt: string, sentAtMs: number): void {
    if (!this.enabled) return;
    const seconds = (sentAtMs - Date.parse(createdAt)) / 1000;
    if (Number.isFinite(seconds)) this.alertToDelivery.labels(channel).observe(Math.max(0, seconds));
  }

  transaction(kind: TransactionKind, seconds: number): void {
    if (!this.enabled) return;
    let child = this.transactionChildren.get(kind);
    if (!child) this.transactionChildren.set(kind, (child = this.transactions.labels(kind)));
    child.observe(seconds);
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    let routes = this.httpChildren.get(method);
    if (!routes) this.httpChildren.set(method, (routes = new Map<string, Map<number, { observe(v: number): void }>>()));
    let statuses = routes.get(route);
    if (!statuses) routes.set(route, (statuses = new Map<number, { observe(v: number): void }>()));
    let child = statuses.get(status);
    if (!child) statuses.set(status, (child = this.http.labels(method, route, String(status))));
    child.observe(seconds);
  }

  grpcCall(method: string, code: string, seconds: number): void {
    const key = `${method}\u0000${code}`;
    let child = this.grpcChildren.get(key);
    if (!child) {
      const calls = this.grpcCalls.labels(method, code);
      const durations = this.grpcSeconds.labels(method, code);
      this.grpcChildren.set(key, (child = { inc: () => calls.inc(), observe: (v) => durations.observe(v) }));
    }
    child.inc();
    child.observe(seconds);
  }

  private sourceLabel(source: string): string {
    const label = source.length > MAX_SOURCE_LABEL_LENGTH ? source.slice(0, MAX_SOURCE_LABEL_LENGTH) : source;
    if (this.sourceLabels.has(label)) return label;
    if (this.sourceLabels.size >= MAX_SOURCE_LABELS) return OTHER_SOURCE;
    this.sourceLabels.add(label);
    return label;
  }

  private async readSources(): Promise<{ incidents?: OpenIncidentCount[]; deliveries?: DeliveryFigures }> {
    const [incidents, deliveries] = await Promise.all([this.read('openIncidents'), this.read('deliveries')]);
    return { incidents, deliveries };
  }

  /** A failed read leaves its gauges out of this scrape (and says so in the log) rather than failing the scrape. */
  private async read<K extends keyof ScrapeSources>(name: K): Promise<Awaited<ReturnType<NonNullable<ScrapeSources[K]>>> | undefined> {
    const source = this.sources[name];
    if (!source) return undefined;
    try {
      return (await source()) as Awaited<ReturnType<NonNullable<ScrapeSources[K]>>>;
    } catch (err) {
      // A store outage is logged once by StoreHealth, not at every scrape.
      if (storeFaultOf(err)) return undefined;
      this.logger.warn({
        msg: 'reading figures for the metrics failed; their gauges are left out of this scrape',
        figures: name,
        error: (err as Error).message,
      });
      return undefined;
    }
  }

  /** A gauge's collect(): reset, then set from the scrape's figures. */
  private collector<G extends Gauge<string>>(
    set: (this: G, figures: { incidents?: OpenIncidentCount[]; deliveries?: DeliveryFigures }) => void,
  ): (this: G) => Promise<void> {
    const current = () => this.scrape;
    return async function (this: G) {
      this.reset();
      const scrape = current();
      set.call(this, scrape ? await scrape : {});
    };
  }
}
