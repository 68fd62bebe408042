import { LoopPacer } from '../common/loop-pacer';
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode, FieldIssue, ValidationFailed } from '../common/domain-error';
import { newId } from '../common/ids';
import type { Tx } from '../database/transactor';
import { Matcher, MatcherSyntaxError, matchesAll, MatchSubject, parseMatchers } from '../routing/matchers';
import { subjectOf } from '../routing/routing.service';
import type { Incident } from '../incidents/domain/incident';
import { IncidentsService } from '../incidents/incidents.service';
import { LiveSilence, Silence, SilenceState, stateOf } from './silence';
import type { CreateSilenceDto } from './silence.dto';
import { SilenceRepository } from './silence.repository';

/** Silences and maintenance windows: while one matches an incident, its notifications are recorded, not sent. */
@Injectable()
export class SilencesService {
  /**
   * The silences in force, read once per transaction: concurrent alerts share one transaction
   * (group commit), and a query per new incident cost ~4-16 % of the delivery benchmark's CPU.
   */
  private readonly activeByTx = new WeakMap<Tx, { from: string; silences: Promise<LiveSilence[]> }>();

  constructor(
    private readonly repository: SilenceRepository,
    private readonly clock: Clock,
    private readonly incidents: IncidentsService,
  ) {}

  async create(dto: CreateSilenceDto, actor: string, byKey?: string): Promise<Silence> {
    const now = this.now();
    const issues: FieldIssue[] = [];
    parsedOrIssues(dto.matchers, issues);
    const startsAt = dto.starts_at ? new Date(dto.starts_at).toISOString() : now;
    const endsAt = new Date(dto.ends_at).toISOString();
    if (endsAt <= startsAt) issues.push({ field: 'ends_at', message: 'must be after starts_at' });
    else if (endsAt <= now) issues.push({ field: 'ends_at', message: 'must be in the future' });
    if (issues.length > 0) throw new ValidationFailed(issues);
    return view(
      await this.repository.insert(
        {
          id: newId(),
          matchers: JSON.stringify(dto.matchers.map((m) => m.trim())),
          starts_at: startsAt,
          ends_at: endsAt,
          comment: dto.comment,
          created_by: dto.created_by ?? actor,
          api_key_name: byKey ?? null,
          created_at: now,
          updated_at: now,
          end_handled_at: null,
        },
        now,
      ),
    );
  }

  /**
   * The open incidents a silence with these matchers would match now, newest first: what the
   * console shows before a silence is created. Open incidents are read PREVIEW_SCAN at most.
   */
  async preview(matchers: readonly string[]): Promise<{ incidents: Incident[]; total: number; scanned: number; complete: boolean }> {
    const issues: FieldIssue[] = [];
    const parsed = parsedOrIssues(matchers, issues);
    if (issues.length > 0) throw new ValidationFailed(issues);
    const matching: Incident[] = [];
    let scanned = 0;
    let open = 0;
    // 10,000 incidents of 64 labels take most of a second to read and match: in slices.
    const pacer = new LoopPacer();
    for (let page = 1; scanned < PREVIEW_SCAN; page++) {
      // Pages of 200: reading one is a single task (500 incidents of 64 labels took 50 ms).
      const { items, total } = await this.incidents.list({ active_only: true, limit: PREVIEW_PAGE, offset: (page - 1) * PREVIEW_PAGE });
      open = total;
      for (const incident of items) {
        if (matchesAll(parsed, subjectOf(incident))) matching.push(incident);
        await pacer.pace();
      }
      scanned += items.length;
      if (items.length < PREVIEW_PAGE) break;
    }
    return { incidents: matching.slice(0, PREVIEW_LIMIT), total: matching.length, scanned, complete: scanned >= open };
  }

  async list(state?: SilenceState): Promise<Silence[]> {
    return (await this.repository.list(this.now(), state)).map(view);
  }

  async get(id: string): Promise<Silence> {
    const found = await this.repository.findById(id, this.now());
    if (!found) throw notFound(id);
    return view(found);
  }

  /** Ends it now; the incidents it kept quiet and nobody has acknowledged are notified then. */
  async expire(id: string): Promise<Silence> {
    const now = this.now();
    const expired = await this.repository.expire(id, now);
    if (expired) return view(expired);
    const found = await this.repository.findById(id, now);
    if (!found) throw notFound(id);
    throw new DomainError(ErrorCode.INVALID_TRANSITION, `silence ${id} has already expired`, { id, ends_at: found.ends_at });
  }

  /** The first silence in force at `at` that matches, read in the caller's transaction. */
  async matchingWithin(tx: Tx, subject: MatchSubject, at: string): Promise<LiveSilence | null> {
    // The events of one transaction are a few milliseconds apart: the silences not ended a minute
    // before the first are read once, and each event takes those in force at its own time.
    let read = this.activeByTx.get(tx);
    if (!read || at < read.from) {
      const from = new Date(Date.parse(at) - 60_000).toISOString();
      read = { from, silences: this.repository.notEndedWithin(tx, from) };
      this.activeByTx.set(tx, read);
    }
    return (await read.silences).find((s) => stateOf(s, at) === 'active' && matchesAll(s.parsed, subject)) ?? null;
  }

  /** Active silences matching the subject (for the routing explanation). */
  async matching(subject: MatchSubject): Promise<Silence[]> {
    return (await this.repository.list(this.now(), 'active')).filter((s) => matchesAll(s.parsed, subject)).map(view);
  }

  /** Whether an ended silence waits to be acted on (read without a transaction, each tick). */
  anyEnded(): Promise<boolean> {
    return this.repository.anyEnded(this.now());
  }

  /** Ended silences not yet acted on, claimed by this transaction. */
  claimEndedWithin(tx: Tx, now: string, limit: number): Promise<LiveSilence[]> {
    return this.repository.claimEnded(tx, now, limit);
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

function view({ parsed: _parsed, ...silence }: LiveSilence): Silence {
  return silence;
}

function notFound(id: string): DomainError {
  return new DomainError(ErrorCode.SILENCE_NOT_FOUND, `silence ${id} not found`, { id });
}

/** How many open incidents a preview reads at most, and how many matches it answers with. */
const PREVIEW_SCAN = 10_000;
const PREVIEW_LIMIT = 100;
const PREVIEW_PAGE = 200;

function parsedOrIssues(written: readonly string[], issues: FieldIssue[]): Matcher[] {
  return written.flatMap((text, i) => {
    try {
      // A request's patterns: the repetition limit applies (stored ones are read without it).
      return parseMatchers(text, { limitRepetition: true });
    } catch (err) {
      if (!(err instanceof MatcherSyntaxError)) throw err;
      issues.push({ field: `matchers[${i}]`, message: err.message });
      return [];
    }
  });
}
