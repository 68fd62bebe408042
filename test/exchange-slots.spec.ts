import { ExchangeSlots } from '../src/notifications/pool/exchange-slots';

describe('ExchangeSlots', () => {
  it('gives each worker up to its share of exchanges, least busy worker first', () => {
    const slots = new ExchangeSlots(2, 2, () => 0);
    const taken = [slots.freeWorker()];
    slots.start(taken[0], 'a');
    taken.push(slots.freeWorker());
    slots.start(taken[1], 'b');
    expect(new Set(taken)).toEqual(new Set([1, 2]));
    slots.start(slots.freeWorker(), 'c');
    slots.start(slots.freeWorker(), 'd');
    expect(slots.inFlight).toBe(4);
    expect(slots.freeWorker()).toBe(0);
    slots.end(2, 'b');
    expect(slots.freeWorker()).toBe(2);
  });

  it('lets a healthy target hold three quarters of the exchanges, and keeps the rest for others', () => {
    const slots = new ExchangeSlots(4, 64, () => 0);
    expect(slots.targetShare).toBe(192);
    for (let i = 0; i < 192; i++) slots.start(slots.freeWorker(), 'busy');
    expect(slots.mayStart('busy')).toBe(false);
    expect(slots.mayStart('other')).toBe(true);
    expect(slots.freeWorker()).not.toBe(0);
  });

  it('keeps the old rule for one exchange per worker: workers - 1 for one target', () => {
    expect(new ExchangeSlots(4, 1, () => 0).targetShare).toBe(3);
    expect(new ExchangeSlots(1, 1, () => 0).targetShare).toBe(1);
  });

  it('allows one exchange to a failing target until it succeeds again', () => {
    const slots = new ExchangeSlots(4, 64, () => 0);
    slots.failed('flaky');
    expect(slots.failingTargets).toEqual(['flaky']);
    slots.start(1, 'flaky');
    expect(slots.mayStart('flaky')).toBe(false);
    slots.end(1, 'flaky');
    slots.succeeded('flaky');
    slots.start(1, 'flaky');
    expect(slots.mayStart('flaky')).toBe(true);
  });

  it('starts nothing on a paused target until the pause has passed', () => {
    let now = 1000;
    const slots = new ExchangeSlots(4, 64, () => now);
    expect(slots.pause('limited', 3000)).toBe(true);
    expect(slots.pause('limited', 2000)).toBe(false); // an earlier end does not shorten it
    expect(slots.mayStart('limited')).toBe(false);
    now = 2999;
    expect(slots.mayStart('limited')).toBe(false);
    now = 3000;
    expect(slots.mayStart('limited')).toBe(true);
  });
});
