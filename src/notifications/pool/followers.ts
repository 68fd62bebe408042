/**
 * Deliveries that wait in the store behind one in the pool (the same incident, channel and
 * target go out in order). Once the one in front settles, the store is searched for those
 * followers only, instead of a full claim:
 *
 * - `entered`/`left` count each incident's deliveries in the pool (queued or in flight);
 * - an incident is expected to have followers when its claimed delivery had later rows behind it,
 *   or when new rows were committed while one of its deliveries was in the pool;
 * - `settled` answers whether a settled delivery may have unblocked followers; those incidents
 *   are `wanted` by the next claim, which takes them in batches.
 */
export class Followers {
  private readonly inPool = new Map<string, number>();
  private readonly expected = new Set<string>();
  private readonly wanted = new Set<string>();

  entered(incidentId: string, hasFollowers: boolean): void {
    this.inPool.set(incidentId, (this.inPool.get(incidentId) ?? 0) + 1);
    if (hasFollowers) this.expected.add(incidentId);
  }

  left(incidentId: string): void {
    const left = (this.inPool.get(incidentId) ?? 1) - 1;
    if (left === 0) this.inPool.delete(incidentId);
    else this.inPool.set(incidentId, left);
  }

  /** New rows were committed for these incidents: those with a delivery in the pool now have followers. */
  committed(incidentIds: Iterable<string>): void {
    for (const id of incidentIds) if (this.inPool.has(id)) this.expected.add(id);
  }

  /** A delivery of the incident settled for good (sent or given up): look for its followers if it had any. */
  settled(incidentId: string): boolean {
    if (!this.expected.delete(incidentId)) return false;
    this.wanted.add(incidentId);
    return true;
  }

  get hasWanted(): boolean {
    return this.wanted.size > 0;
  }

  /** Up to `max` incidents whose followers the next claim should look for. */
  takeWanted(max: number): string[] {
    const taken = [...this.wanted].slice(0, max);
    for (const id of taken) this.wanted.delete(id);
    return taken;
  }

  /** A full claim finds every due row anyway. */
  clearWanted(): void {
    this.wanted.clear();
  }

  /** Shutdown: nothing is in the pool any more. */
  clear(): void {
    this.inPool.clear();
  }
}
