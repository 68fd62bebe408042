import { Delivery, PRIORITY_CLASSES } from '../notification';

/** The key of a target: channel and target, as one string. */
export function targetKey(channel: string, target: string): string {
  return `${channel}\u0000${target}`;
}

export function splitKey(key: string): [string, string] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
}

/**
 * The claimed deliveries waiting for an exchange slot, by priority class and target.
 *
 * - The most urgent class goes first: a page waits behind no low-severity webhook.
 * - Within a class, targets take turns (round-robin), so one busy target does not starve others.
 * - Per-target order is not this queue's concern: the store hands out only the first unsent
 *   delivery of each (incident, channel, target), so two deliveries that must keep their order
 *   are never here together.
 * - Capacity: `capacity` deliveries, plus a reserve of a quarter of it that only class 0 may
 *   use, so pages find room when the queue is full of low-severity work. One target holds at
 *   most `perTargetMax` of them.
 */
export class ReadyQueue {
  /** Per class, the targets' queues in turn order (a Map keeps insertion order). */
  private readonly classes: Array<Map<string, Delivery[]>> = Array.from({ length: PRIORITY_CLASSES }, () => new Map<string, Delivery[]>());
  private readonly perTarget = new Map<string, number>();
  private count = 0;
  readonly reserve: number;

  constructor(
    readonly capacity: number,
    readonly perTargetMax: number,
  ) {
    this.reserve = Math.max(1, Math.floor(capacity / 4));
  }

  get size(): number {
    return this.count;
  }

  lengthOf(key: string): number {
    return this.perTarget.get(key) ?? 0;
  }

  /** Room for `n` more deliveries of this priority (class 0 may use the reserve). */
  hasRoom(priority: number, n = 1): boolean {
    return this.room(priority) >= n;
  }

  /** How many more deliveries of this priority fit. */
  room(priority: number): number {
    return Math.max(0, this.capacity + (priority === 0 ? this.reserve : 0) - this.count);
  }

  /** Targets holding their whole share: the claim leaves their rows in the store. */
  fullTargets(): string[] {
    const full: string[] = [];
    for (const [key, n] of this.perTarget) if (n >= this.perTargetMax) full.push(key);
    return full;
  }

  push(d: Delivery): void {
    const key = targetKey(d.channel, d.target);
    const byTarget = this.classes[classOf(d)];
    let queue = byTarget.get(key);
    if (!queue) byTarget.set(key, (queue = []));
    queue.push(d);
    this.perTarget.set(key, this.lengthOf(key) + 1);
    this.count += 1;
  }

  /**
   * Takes the next delivery whose target may start another exchange now: the most urgent class
   * first, targets in turn within it. The served target goes to the back of its class's line.
   */
  take(mayStart: (key: string) => boolean): { key: string; delivery: Delivery } | undefined {
    for (const byTarget of this.classes) {
      for (const [key, queue] of byTarget) {
        if (!mayStart(key)) continue;
        const delivery = queue.shift()!;
        byTarget.delete(key);
        if (queue.length > 0) byTarget.set(key, queue);
        this.forget(key, 1);
        return { key, delivery };
      }
    }
    return undefined;
  }

  /** Removes what a target holds beyond `keep`, least urgent first, and answers it. */
  trim(key: string, keep: number): Delivery[] {
    const removed: Delivery[] = [];
    for (let c = this.classes.length - 1; c >= 0 && this.lengthOf(key) - removed.length > keep; c--) {
      const queue = this.classes[c].get(key);
      if (!queue) continue;
      const excess = Math.min(queue.length, this.lengthOf(key) - removed.length - keep);
      removed.push(...queue.splice(queue.length - excess, excess));
      if (queue.length === 0) this.classes[c].delete(key);
    }
    this.forget(key, removed.length);
    return removed;
  }

  /** Empties the queue and answers everything it held. */
  drain(): Delivery[] {
    const all: Delivery[] = [];
    for (const byTarget of this.classes) {
      for (const queue of byTarget.values()) all.push(...queue);
      byTarget.clear();
    }
    this.perTarget.clear();
    this.count = 0;
    return all;
  }

  private forget(key: string, n: number): void {
    if (n === 0) return;
    const left = this.lengthOf(key) - n;
    if (left > 0) this.perTarget.set(key, left);
    else this.perTarget.delete(key);
    this.count -= n;
  }
}

function classOf(d: Delivery): number {
  return Math.min(PRIORITY_CLASSES - 1, Math.max(0, Math.trunc(d.priority)));
}
