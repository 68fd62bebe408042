import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { FieldIssue, ValidationFailed } from '../common/domain-error';
import { LoopPacer } from '../common/loop-pacer';
import { SEVERITIES } from '../incidents/domain/incident';
import { ACTIVE_STATES } from '../incidents/domain/state-machine';
import {
  DEFAULT_REPORT_DAYS,
  DurationStatsView,
  MAX_REPORT_DAYS,
  NO_TEAM,
  NobodyReachedView,
  PersonLoadView,
  ResponseReportQuery,
  ResponseReportView,
  ResponseTimesView,
} from './reports.dto';
import { ReportIncident, ReportsRepository, ReportTimelineEntry } from './reports.repository';

const DAY_MS = 86_400_000;
/** Incidents read (and their timeline looked up) per query. */
const INCIDENT_PAGE = 1000;
/** Incidents whose acknowledgement and resolution (or labels) are looked up per query (a query over 1,000 held the loop 50 ms). */
const MILESTONE_BATCH = 250;
/** Timeline positions read per query when counting notifications. */
const TIMELINE_CHUNK = 5_000;
/**
 * How far out of time order a timeline entry may be appended: the clocks of instances sharing a
 * store may differ, and a transaction stamps its entries when it starts. Generous: it only costs
 * reading an hour more of timeline on each side of the range.
 */
const APPEND_ORDER_MARGIN_MS = 3_600_000;
/** A move out of Detected to one of these takes the incident on: it counts as acknowledgement. */
const TAKEN_ON_STATES: readonly string[] = ACTIVE_STATES.filter((s) => s !== 'Detected');

/** Reports over the incident timeline: how fast incidents were taken on and resolved, and who was notified. */
@Injectable()
export class ReportsService {
  constructor(
    private readonly repository: ReportsRepository,
    private readonly clock: Clock,
  ) {}

  /**
   * Incidents created in [from, to): how many were acknowledged and resolved (by now), and the
   * time to each from the timeline (first acknowledgement, or move out of Detected; first
   * resolution), overall, by severity and by team; and the notifications stamped in [from, to),
   * by person and by the targets that reached nobody.
   */
  async response(query: ResponseReportQuery): Promise<ResponseReportView> {
    const { from, to } = this.range(query);
    const team = query.team ?? null;
    const pacer = new LoopPacer();

    const overall = new Tally();
    const bySeverity = new Map<string, Tally>(SEVERITIES.map((s) => [s, new Tally()]));
    const byTeam = new Map<string, Tally>();
    let after: ReportIncident | null = null;
    for (;;) {
      // Each query is one task (on SQLite a synchronous one): the loop is shared before each.
      await pacer.pace();
      const page = await this.repository.incidentsCreated(from, to, after, INCIDENT_PAGE);
      if (page.length === 0) break;
      after = page[page.length - 1];
      const counted: Array<{ incident: ReportIncident; team: string }> = [];
      for (const incident of page) {
        const incidentTeam = teamOf(incident.labels);
        if (team === null || incidentTeam === team) counted.push({ incident, team: incidentTeam });
        await pacer.pace();
      }
      const milestones = new Map<string, ReportTimelineEntry[]>();
      for (let i = 0; i < counted.length; i += MILESTONE_BATCH) {
        await pacer.pace();
        collectByIncident(await this.repository.milestones(counted.slice(i, i + MILESTONE_BATCH).map((c) => c.incident.id)), milestones);
      }
      for (const { incident, team: incidentTeam } of counted) {
        const times = timesOf(incident, milestones.get(incident.id) ?? []);
        overall.add(times);
        bySeverity.get(incident.severity)?.add(times);
        let teamTally = byTeam.get(incidentTeam);
        if (!teamTally) byTeam.set(incidentTeam, (teamTally = new Tally()));
        teamTally.add(times);
        await pacer.pace();
      }
      if (page.length < INCIDENT_PAGE) break;
    }

    const { people, nobody } = await this.notifications(from, to, team, pacer);
    return {
      from,
      to,
      team,
      incidents: {
        total: overall.incidents,
        acknowledged: overall.acknowledged.length,
        unacknowledged: overall.incidents - overall.acknowledged.length,
        resolved: overall.resolved.length,
        unresolved: overall.incidents - overall.resolved.length,
      },
      time_to_acknowledge_secs: stats(overall.acknowledged),
      time_to_resolve_secs: stats(overall.resolved),
      by_severity: SEVERITIES.map((severity) => ({ severity, ...(bySeverity.get(severity) as Tally).view() })),
      by_team: [...byTeam].sort(([a, ta], [b, tb]) => tb.incidents - ta.incidents || compare(a, b)).map(([name, tally]) => ({ team: name, ...tally.view() })),
      notifications_by_person: people,
      nobody_reached: nobody,
    };
  }

  /**
   * The notification entries stamped in [from, to), whatever incident they belong to (an incident
   * created before `from` is still notified about in it). The timeline has no index on its
   * timestamps: the positions that hold them are found by bisection, and read in primary-key
   * chunks, so that each query is bounded and the loop is shared between them.
   */
  private async notifications(
    from: string,
    to: string,
    team: string | null,
    pacer: LoopPacer,
  ): Promise<{ people: PersonLoadView[]; nobody: NobodyReachedView[] }> {
    const first = await this.repository.firstPositionStampedFrom(shift(from, -APPEND_ORDER_MARGIN_MS));
    const end = await this.repository.firstPositionStampedFrom(shift(to, APPEND_ORDER_MARGIN_MS));
    const load = new OnCallLoad();
    // With a team filter: the team of each incident notified about, looked up once.
    const teams = new Map<string, string>();
    for (let start = first; start < end; start += TIMELINE_CHUNK) {
      await pacer.pace();
      const entries = await this.repository.notifications(start, Math.min(start + TIMELINE_CHUNK, end), from, to);
      if (team !== null) await this.learnTeams(entries, teams, pacer);
      for (const entry of entries) {
        if (team === null || teams.get(entry.incident_id) === team) load.add(entry);
        await pacer.pace();
      }
    }
    return load.view();
  }

  private async learnTeams(entries: readonly ReportTimelineEntry[], teams: Map<string, string>, pacer: LoopPacer): Promise<void> {
    const unknown = [...new Set(entries.map((e) => e.incident_id))].filter((id) => !teams.has(id));
    for (let i = 0; i < unknown.length; i += MILESTONE_BATCH) {
      await pacer.pace();
      for (const { id, labels } of await this.repository.labelsOf(unknown.slice(i, i + MILESTONE_BATCH))) teams.set(id, teamOf(labels));
    }
  }

  /** [from, to) as given or by default; a bad range is a 400 naming the field. */
  private range(query: ResponseReportQuery): { from: string; to: string } {
    const toMs = query.to !== undefined ? Date.parse(query.to) : this.clock.now().getTime();
    const fromMs = query.from !== undefined ? Date.parse(query.from) : toMs - DEFAULT_REPORT_DAYS * DAY_MS;
    const issues: FieldIssue[] = [];
    if (toMs <= fromMs) issues.push({ field: 'to', message: 'must be after from' });
    else if (toMs - fromMs > MAX_REPORT_DAYS * DAY_MS) issues.push({ field: 'from', message: `must be at most ${MAX_REPORT_DAYS} days before to` });
    if (issues.length > 0) throw new ValidationFailed(issues);
    return { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() };
  }
}

/** How long one incident took to be acknowledged and resolved, in seconds (null: not yet). */
interface ResponseTimes {
  acknowledge: number | null;
  resolve: number | null;
}

/** The incidents of one group and their response times. */
class Tally {
  incidents = 0;
  readonly acknowledged: number[] = [];
  readonly resolved: number[] = [];

  add(times: ResponseTimes): void {
    this.incidents++;
    if (times.acknowledge !== null) this.acknowledged.push(times.acknowledge);
    if (times.resolve !== null) this.resolved.push(times.resolve);
  }

  view(): ResponseTimesView {
    return {
      incidents: this.incidents,
      acknowledged: this.acknowledged.length,
      resolved: this.resolved.length,
      time_to_acknowledge_secs: stats(this.acknowledged),
      time_to_resolve_secs: stats(this.resolved),
    };
  }
}

/** Notifications by person and by the targets that reached nobody. */
class OnCallLoad {
  private readonly people = new Map<string, PersonLoadView & { latest: string }>();
  private readonly nobody = new Map<string, number>();

  add(entry: ReportTimelineEntry): void {
    const metadata = parsed(entry.metadata);
    if (entry.event_type === 'nobody_reached') {
      const target = typeof metadata.target === 'string' ? metadata.target : 'unknown';
      this.nobody.set(target, (this.nobody.get(target) ?? 0) + 1);
      return;
    }
    if (entry.event_type !== 'person_notified' || typeof metadata.user_id !== 'string') return;
    let person = this.people.get(metadata.user_id);
    if (!person) this.people.set(metadata.user_id, (person = { user_id: metadata.user_id, user_name: '', notifications: 0, by_method: {}, latest: '' }));
    person.notifications++;
    // Names change: the latest one in the range is shown.
    if (entry.timestamp >= person.latest && typeof metadata.user_name === 'string') {
      person.user_name = metadata.user_name;
      person.latest = entry.timestamp;
    }
    for (const method of Array.isArray(metadata.methods) ? (metadata.methods as unknown[]) : []) {
      if (typeof method === 'string') person.by_method[method] = (person.by_method[method] ?? 0) + 1;
    }
  }

  view(): { people: PersonLoadView[]; nobody: NobodyReachedView[] } {
    return {
      people: [...this.people.values()]
        .sort((a, b) => b.notifications - a.notifications || compare(a.user_name, b.user_name) || compare(a.user_id, b.user_id))
        .map(({ latest: _latest, ...person }) => person),
      nobody: [...this.nobody].sort(([a, na], [b, nb]) => nb - na || compare(a, b)).map(([target, times]) => ({ target, times })),
    };
  }
}

function collectByIncident(entries: ReportTimelineEntry[], byIncident: Map<string, ReportTimelineEntry[]>): void {
  for (const entry of entries) {
    const list = byIncident.get(entry.incident_id);
    if (list) list.push(entry);
    else byIncident.set(entry.incident_id, [entry]);
  }
}

/**
 * From creation (the incident's created_at, which its `created` entry bears too) to its first
 * acknowledgement (an `acknowledged` entry, or a move from Detected to a later active state) and
 * to its first resolution (a `resolved` entry, or a move to Resolved).
 */
function timesOf(incident: ReportIncident, milestones: ReportTimelineEntry[]): ResponseTimes {
  let acknowledged: string | null = null;
  let resolved: string | null = null;
  for (const entry of milestones) {
    let acknowledges = entry.event_type === 'acknowledged';
    let resolves = entry.event_type === 'resolved';
    if (entry.event_type === 'state_changed') {
      const { from, to } = parsed(entry.metadata);
      acknowledges = from === 'Detected' && typeof to === 'string' && TAKEN_ON_STATES.includes(to);
      resolves = to === 'Resolved';
    }
    // Timestamps are fixed-width ISO-8601 UTC: they compare as text.
    if (acknowledges && (acknowledged === null || entry.timestamp < acknowledged)) acknowledged = entry.timestamp;
    if (resolves && (resolved === null || entry.timestamp < resolved)) resolved = entry.timestamp;
  }
  const created = Date.parse(incident.created_at);
  // An entry stamped before the creation (clocks of two instances apart) counts as at once.
  const since = (at: string | null) => (at === null ? null : Math.max(0, Date.parse(at) - created) / 1000);
  return { acknowledge: since(acknowledged), resolve: since(resolved) };
}

/** Mean and nearest-rank 90th percentile, or nulls when there is nothing to measure. */
function stats(values: readonly number[]): DurationStatsView {
  if (values.length === 0) return { mean: null, p90: null };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return { mean: Math.round((sum / sorted.length) * 1000) / 1000, p90: sorted[Math.ceil(0.9 * sorted.length) - 1] };
}

/** The `team` label of an incident's labels (JSON text), or NO_TEAM. */
function teamOf(labels: string): string {
  const team = parsed(labels).team;
  return typeof team === 'string' && team !== '' ? team : NO_TEAM;
}

/** A JSON object of stored text; anything else (never written by the service) reads as empty. */
function parsed(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Moved by `ms`, kept within the years 0000-9999: beyond them ISO text gains a sign and no longer sorts. */
function shift(iso: string, ms: number): string {
  return new Date(Math.min(LATEST_MS, Math.max(EARLIEST_MS, Date.parse(iso) + ms))).toISOString();
}

const EARLIEST_MS = Date.parse('0000-01-01T00:00:00.000Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
