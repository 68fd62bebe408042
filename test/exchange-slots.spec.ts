import { nextAttemptDelay, ownerIsGone, probeDelay } from '../src/notifications/pool/retry-schedule';
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
    slots.failed('flaky', 0, 0);
    expect(slots.failingTargets).toEqual(['flaky']);
    slots.start(1, 'flaky');
    expect(slots.mayStart('flaky')).toBe(false);
    slots.end(1, 'flaky');
    slots.succeeded('flaky');
    slots.start(1, 'flaky');
    expect(slots.mayStart('flaky')).toBe(true);
  });

  it('counts the attempts in flight when a target began to fail as one failure, and each probe after that', () => {
    const slots = new ExchangeSlots(4, 64, () => 0);
    // 32 attempts started at 100 fail from 150 on: one failure.
    for (let i = 0; i < 32; i++) expect(slots.failed('down', 100, 150 + i)).toBe(1);
    expect(slots.failed('down', 1200, 1250)).toBe(2); // the first probe
    expect(slots.failed('down', 3300, 3310)).toBe(3);
    expect(slots.succeeded('down')).toBe(3);
    expect(slots.succeeded('down')).toBe(0);
    expect(slots.failingTargets).toEqual([]);
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

describe('retry schedule', () => {
  it('rests a failing target 1 s (less when the backoff is shorter, never under 250 ms), doubling up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => probeDelay(5000, n))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(probeDelay(0, 1)).toBe(250);
    expect(probeDelay(500, 2)).toBe(1000);
  });

  it('backs a page off at most a minute, and past its attempts at least 1 s, doubling, even with no backoff', () => {
    expect(nextAttemptDelay(5000, 8, 4, true)).toBe(60_000);
    expect(nextAttemptDelay(0, 4, 4, true)).toBe(1000);
    expect(nextAttemptDelay(0, 6, 4, true)).toBe(4000);
    expect(nextAttemptDelay(0, 2, 4, true)).toBe(0); // within its attempts, the backoff as configured
    expect(nextAttemptDelay(0, 9, 4, false)).toBe(0);
    expect(nextAttemptDelay(0, 1, 4, false, 7000)).toBe(7000); // Retry-After wins
    const delay = nextAttemptDelay(5000, 3, 4, false); // 20 s ± 20 %
    expect(delay).toBeGreaterThanOrEqual(16000);
    expect(delay).toBeLessThanOrEqual(24000);
  });

  it('knows a lease owner of this host whose process is gone: its own pid (a restarted container) or none', () => {
    expect(ownerIsGone(`box:${process.pid}:abc`, 'box', process.pid)).toBe(true);
    expect(ownerIsGone(`box:${process.ppid}:abc`, 'box', process.pid)).toBe(false); // alive
    expect(ownerIsGone('box:2147483000:abc', 'box', process.pid)).toBe(true);
    expect(ownerIsGone(`other:${process.pid}:abc`, 'box', process.pid)).toBe(false);
    expect(ownerIsGone('box:x:abc', 'box', process.pid)).toBe(false);
  });
});
