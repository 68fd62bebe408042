import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/domain-error';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';

interface Bucket {
  tokens: number;
  at: number;
}

/** Each kind of thing in progress: its key in [limits], its limit and what it counts. */
const LIMITS = {
  request: (c: AppConfig) => ({ key: 'max_concurrent_requests_per_key', limit: c.limits.max_concurrent_requests_per_key, what: 'requests in progress' }),
  stream: (c: AppConfig) => ({ key: 'max_streams_per_key', limit: c.limits.max_streams_per_key, what: 'open streams' }),
  expensive: (c: AppConfig) => ({ key: 'max_expensive_reads_per_key', limit: c.limits.max_expensive_reads_per_key, what: 'large reads in progress' }),
} as const;

/** Bucket of requests made without a key (only when auth is off): they share one budget. */
const ANONYMOUS = '';

/**
 * Per-key abuse limits: a token bucket for ingested alerts, and counters of requests and
 * streams in progress. In memory, per instance: with several instances behind a balancer a key
 * gets each instance's allowance.
 */
@Injectable()
export class KeyLimits {
  private readonly buckets = new Map<string, Bucket>();
  /** In progress per key id; entries stay at 0 (only authenticated keys get here, so few). */
  private readonly inProgress = { request: new Map<string, number>(), stream: new Map<string, number>(), expensive: new Map<string, number>() };

  constructor(@InjectConfig() private readonly config: AppConfig) {}

  /**
   * Takes `count` alerts from the current key's bucket, or refuses the whole request (nothing is
   * written). A batch larger than the burst is admitted only when the bucket is full, and leaves
   * it in debt, so no batch is refused forever.
   */
  takeIngest(keyId: string | undefined, count: number, now = Date.now()): void {
    const { ingest_rate_per_sec: rate, ingest_burst: burst } = this.config.limits;
    const key = keyId ?? ANONYMOUS;
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    const needed = Math.min(count, burst);
    if (bucket.tokens < needed) {
      this.buckets.set(key, bucket);
      const retryAfterSecs = Math.max(1, Math.ceil((needed - bucket.tokens) / rate));
      throw new DomainError(
        ErrorCode.RATE_LIMITED,
        `ingest rate limit of this API key reached (${rate} alerts/s, burst ${burst}); retry in ${retryAfterSecs} s`,
        {
          retry_after_secs: retryAfterSecs,
          limit: 'limits.ingest_rate_per_sec',
        },
      );
    }
    bucket.tokens -= count;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 100_000) this.sweep(now);
  }

  /** Counts a request (or stream) of `keyId` in progress; the returned function ends it. */
  enter(keyId: string, kind: 'request' | 'stream' | 'expensive'): () => void {
    const { key, limit, what } = LIMITS[kind](this.config);
    const counts = this.inProgress[kind];
    const current = counts.get(keyId) ?? 0;
    if (current >= limit) {
      throw new DomainError(ErrorCode.RATE_LIMITED, `this API key already has ${limit} ${what} (limits.${key})`, {
        retry_after_secs: 1,
        limit: `limits.${key}`,
      });
    }
    counts.set(keyId, current + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      counts.set(keyId, Math.max(0, (counts.get(keyId) ?? 1) - 1));
    };
  }

  /** Full buckets carry no state worth keeping. */
  private sweep(now: number): void {
    const { ingest_rate_per_sec: rate, ingest_burst: burst } = this.config.limits;
    for (const [key, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * rate >= burst) this.buckets.delete(key);
  }
}
