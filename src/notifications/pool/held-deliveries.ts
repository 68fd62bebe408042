import { hostname } from 'node:os';
import type { Dialect } from '../../database/schema';
import type { DeliveryClaimsRepository } from '../delivery-claims.repository';
import { ownerIsGone } from './retry-schedule';

/**
 * The deliveries the pool holds and its leases on them in the store: the lease expiry of each
 * one waiting or in flight (renewed before it runs out), the deliveries handed back to be made
 * pending again, and the leases granted for rows about to be written. At start, the leases a
 * previous run of this service left behind.
 */
export class HeldDeliveries {
  /** Lease expiry of each claimed delivery waiting in the ready queue or in flight, in ms. */
  private readonly leaseUntil = new Map<string, number>();
  /**
   * Every delivery this pool holds: in the ready queue, in flight, or sent with its outcome not
   * yet written. A claim that finds one of these again (its lease ran out meanwhile) keeps it
   * instead of queueing it twice.
   */
  private readonly held = new Set<string>();
  /**
   * Deliveries to hand back to the store as pending. They are written back by the claim, never
   * beside it: a release racing this pool's own claim of the same (expired) row could otherwise
   * make pending a row the claim had just taken back, and it would be sent twice.
   */
  private toRelease: string[] = [];
  /** Leases granted by grant() since `grantsSince` (ms) and not yet adopted. */
  private grants = 0;
  private grantsSince = 0;

  constructor(
    private readonly claims: DeliveryClaimsRepository,
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly nowMs: () => number,
  ) {}

  has(id: string): boolean {
    return this.held.has(id);
  }

  /** A claimed delivery enters the pool, leased until `leaseUntilMs`. */
  take(id: string, leaseUntilMs: number): void {
    this.leaseUntil.set(id, leaseUntilMs);
    this.held.add(id);
  }

  /** When the lease of a delivery waiting or in flight runs out, in ms (0: it has none). */
  leaseOf(id: string): number {
    return this.leaseUntil.get(id) ?? 0;
  }

  /** The store renewed a lease: kept while the delivery still waits or is in flight. */
  renewed(id: string, leaseUntilMs: number): void {
    if (this.leaseUntil.has(id)) this.leaseUntil.set(id, leaseUntilMs);
  }

  /** The delivery no longer waits and is not in flight: its lease is not kept any more. */
  endLease(id: string): void {
    this.leaseUntil.delete(id);
  }

  /** The delivery leaves the pool with no outcome to write: its lease was taken over, or shutdown leaves it to the store. */
  drop(id: string): void {
    this.leaseUntil.delete(id);
    this.held.delete(id);
  }

  /** The delivery's outcome is written: the pool holds it no more. */
  recorded(id: string): void {
    this.held.delete(id);
  }

  /** Deliveries to return to the store as pending, by the next claim (see releaseHandedBack). */
  handBack(ids: string[]): void {
    for (const id of ids) this.held.delete(id);
    this.toRelease.push(...ids);
  }

  /** In the claim: writes back what was handed back, unless this pool has taken it again since. */
  async releaseHandedBack(): Promise<void> {
    const batch = this.toRelease.filter((id) => !this.held.has(id));
    this.toRelease = [];
    if (batch.length === 0) return;
    try {
      await this.claims.release(this.owner, batch, iso(this.nowMs()));
    } catch (err) {
      this.toRelease.unshift(...batch);
      throw err;
    }
  }

  /**
   * Deliveries a previous run of this service left `sending` are due again at once, not after
   * their lease. SQLite is one process's store: every such row is one. On PostgreSQL, several
   * instances share the store: a row is released when its owner ran on this host and its
   * process is gone (owners are host:pid:random, so a restarted container, which is pid 1
   * again, recognises its predecessor's rows). Other hosts' rows wait for their lease.
   */
  async releaseOrphans(dialect: Dialect): Promise<number> {
    const now = iso(this.nowMs());
    if (dialect === 'sqlite') return this.claims.releaseAllSending(now);
    let released = 0;
    for (const owner of await this.claims.ownersSending(`${hostname()}:`)) {
      if (owner !== this.owner && ownerIsGone(owner, hostname(), process.pid)) released += await this.claims.releaseOwner(owner, now);
    }
    return released;
  }

  /** Shutdown: writes back what was handed back, and `unstarted` (claimed, never sent). */
  async releaseAll(unstarted: string[]): Promise<void> {
    const handBack = [...this.toRelease.filter((id) => !this.held.has(id)), ...unstarted];
    await this.claims.release(this.owner, handBack, iso(this.nowMs()));
  }

  /**
   * Keeps the leases of the deliveries waiting in the ready queue: a target that is being
   * probed holds its share for as long as its outage lasts, and a lease that ran out would
   * report them stranded and let another instance send them past the probe.
   */
  async renewLeases(): Promise<void> {
    const now = this.nowMs();
    const due = [...this.leaseUntil].filter(([, until]) => until - now < this.leaseMs / 2).map(([id]) => id);
    if (due.length === 0) return;
    const until = now + this.leaseMs;
    for (const id of await this.claims.extendLeases(due, this.owner, iso(until))) this.renewed(id, until);
  }

  /** Renews the lease of a delivery about to be sent; false if another instance has taken it over. */
  async extendLease(id: string, now: number): Promise<boolean> {
    if (!(await this.claims.extendLease(id, this.owner, iso(now + this.leaseMs)))) return false;
    this.leaseUntil.set(id, now + this.leaseMs);
    return true;
  }

  /**
   * Grants `count` leases for rows about to be written, if the queue has room for them (`hasRoom`
   * is asked for them and the grants not yet adopted).
   */
  grant(now: number, count: number, hasRoom: (n: number) => boolean): boolean {
    // Leases granted for rows not yet committed count against the room too. A transaction that
    // rolls back never returns its grants, so the count starts over every second; adopt()
    // hands back whatever finds no room after all.
    if (now - this.grantsSince > 1000) {
      this.grantsSince = now;
      this.grants = 0;
    }
    if (!hasRoom(this.grants + count)) return false;
    this.grants += count;
    return true;
  }

  /** Granted leases whose rows were committed and adopted. */
  adopted(count: number): void {
    this.grants = Math.max(0, this.grants - count);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
