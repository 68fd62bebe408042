import { Delivery, priorityOf } from '../src/notifications/notification';
import { ReadyQueue, splitKey, targetKey } from '../src/notifications/pool/ready-queue';

let seq = 0;
function delivery(target: string, priority: number, channel: Delivery['channel'] = 'webhook'): Delivery {
  seq += 1;
  return {
    id: `d${seq}`,
    seq,
    incident_id: `i${seq}`,
    event: 'incident.detected',
    channel,
    action: 'send',
    target,
    target_ref: null,
    payload: '{}',
    status: 'sending',
    attempts: 0,
    max_attempts: 4,
    next_attempt_at: '2026-01-01T00:00:00.000Z',
    last_error: null,
    external_ref: null,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    sent_at: null,
    priority,
    route: null,
    receiver: null,
    silence_id: null,
  };
}

const any = () => true;

describe('priorityOf', () => {
  it.each([
    ['pagerduty', 'P4', false, 0],
    ['webhook', 'P0', true, 0],
    ['slack', 'P1', true, 0],
    ['webhook', 'P1', false, 1],
    ['email', 'P2', true, 1],
    ['webhook', 'P2', false, 2],
    ['webhook', 'P3', true, 2],
    ['webhook', 'P4', true, 2],
    ['webhook', 'P4', false, 3],
  ] as const)('%s, %s, first %s → %d', (channel, severity, first, expected) => {
    expect(priorityOf(channel, severity, first)).toBe(expected);
  });
});

describe('ReadyQueue', () => {
  it('hands out the most urgent class first, whatever the order of arrival', () => {
    const q = new ReadyQueue(100, 100);
    q.push(delivery('a', 3));
    q.push(delivery('a', 2));
    q.push(delivery('b', 0));
    q.push(delivery('a', 1));
    expect([q.take(any), q.take(any), q.take(any), q.take(any)].map((t) => t!.delivery.priority)).toEqual([0, 1, 2, 3]);
    expect(q.take(any)).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it("serves targets of one class in turn, and keeps each target's own order", () => {
    const q = new ReadyQueue(100, 100);
    const a = [delivery('a', 2), delivery('a', 2), delivery('a', 2)];
    const b = [delivery('b', 2)];
    for (const d of [...a, ...b]) q.push(d);
    const order = [q.take(any), q.take(any), q.take(any), q.take(any)].map((t) => t!.delivery.id);
    expect(order).toEqual([a[0].id, b[0].id, a[1].id, a[2].id]);
  });

  it('skips a target that may not start another exchange, and serves it once it may', () => {
    const q = new ReadyQueue(100, 100);
    const urgent = delivery('busy', 0);
    const later = delivery('idle', 3);
    q.push(urgent);
    q.push(later);
    const busy = targetKey('webhook', 'busy');
    expect(q.take((key) => key !== busy)!.delivery.id).toBe(later.id);
    expect(q.take((key) => key !== busy)).toBeUndefined();
    expect(q.take(any)!.delivery.id).toBe(urgent.id);
  });

  it('keeps a reserve that only class 0 may fill', () => {
    const q = new ReadyQueue(8, 8);
    expect(q.reserve).toBe(2);
    for (let i = 0; i < 8; i++) q.push(delivery(`t${i}`, 3));
    expect(q.hasRoom(1)).toBe(false);
    expect(q.room(3)).toBe(0);
    expect(q.hasRoom(0)).toBe(true);
    expect(q.room(0)).toBe(2);
    q.push(delivery('p', 0));
    q.push(delivery('p', 0));
    expect(q.hasRoom(0)).toBe(false);
  });

  it('names the targets that hold their whole share, and trims one target least urgent first', () => {
    const q = new ReadyQueue(100, 3);
    const kept = [delivery('a', 0), delivery('a', 2)];
    const dropped = [delivery('a', 3), delivery('a', 3)];
    for (const d of [dropped[0], kept[0], dropped[1], kept[1]]) q.push(d);
    q.push(delivery('b', 3));
    expect(q.fullTargets().map(splitKey)).toEqual([['webhook', 'a']]);
    expect(
      q
        .trim(targetKey('webhook', 'a'), 2)
        .map((d) => d.id)
        .sort(),
    ).toEqual(dropped.map((d) => d.id).sort());
    expect(q.lengthOf(targetKey('webhook', 'a'))).toBe(2);
    expect(q.size).toBe(3);
    expect(q.fullTargets()).toEqual([]);
    const drained = q.drain().map((d) => d.id);
    expect(drained).toHaveLength(3);
    expect(drained).toEqual(expect.arrayContaining(kept.map((d) => d.id)));
    expect(q.size).toBe(0);
  });
});
