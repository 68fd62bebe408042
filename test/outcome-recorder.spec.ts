import type { AttemptResult } from '../src/notifications/delivery.repository';
import { OutcomeRecorder } from '../src/notifications/pool/outcome-recorder';

const sent = (id: string): AttemptResult => ({ id, incident_id: `i-${id}`, kind: 'sent', at: '2026-01-01T00:00:00.000Z', ref: null });
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('OutcomeRecorder', () => {
  it('writes outcomes that arrive together in one batch, then reports it', async () => {
    const writes: string[][] = [];
    const recorded: string[][] = [];
    const recorder = new OutcomeRecorder(
      (batch) => {
        writes.push(batch.map((r) => r.id));
        return Promise.resolve();
      },
      (batch) => recorded.push(batch.map((r) => r.id)),
      () => undefined,
    );
    recorder.add(sent('a'));
    recorder.add(sent('b'));
    recorder.add(sent('c'));
    await settle();
    expect(writes).toEqual([['a', 'b', 'c']]);
    expect(recorded).toEqual([['a', 'b', 'c']]);
    expect(recorder.waiting).toBe(0);
  });

  it('keeps a batch whose write failed, in order ahead of later outcomes, and writes it again', async () => {
    const writes: string[][] = [];
    const errors: string[] = [];
    let failNext = true;
    const recorder = new OutcomeRecorder(
      (batch) => {
        writes.push(batch.map((r) => r.id));
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('database is locked'));
        }
        return Promise.resolve();
      },
      () => undefined,
      (err) => errors.push(err.message),
    );
    recorder.add(sent('a'));
    await settle();
    expect(errors).toEqual(['database is locked']);
    expect(recorder.waiting).toBe(1);
    recorder.add(sent('b'));
    recorder.stop(); // no timer: the next flush is ours
    await recorder.flush();
    expect(writes).toEqual([['a'], ['a', 'b']]);
    expect(recorder.waiting).toBe(0);
  });

  it('never runs two writes at once: a flush waits for the one in progress', async () => {
    let running = 0;
    let most = 0;
    const recorder = new OutcomeRecorder(
      async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 10));
        running -= 1;
      },
      () => undefined,
      () => undefined,
    );
    recorder.add(sent('a'));
    const first = recorder.flush();
    recorder.add(sent('b'));
    await Promise.all([first, recorder.flush()]);
    expect(most).toBe(1);
    expect(recorder.waiting).toBe(0);
  });

  it('writes a backlog in bounded batches, in order, and keeps a failed backlog of any length', async () => {
    const writes: string[][] = [];
    let failing = true;
    const recorder = new OutcomeRecorder(
      (batch) => {
        writes.push(batch.map((r) => r.id));
        return failing ? Promise.reject(new Error('the store is away')) : Promise.resolve();
      },
      () => undefined,
      () => undefined,
    );
    recorder.stop(); // no timer: each flush is the test's
    // 150,000 outcomes waiting while the store is away: putting a failed batch back in front must not overflow the stack.
    for (let i = 0; i < 150_000; i++) recorder.add(sent(String(i)));
    await expect(recorder.flush()).rejects.toThrow('the store is away');
    expect(recorder.waiting).toBe(150_000);
    failing = false;
    writes.length = 0;
    await recorder.flush();
    expect(recorder.waiting).toBe(0);
    expect(writes).toHaveLength(150);
    expect(Math.max(...writes.map((w) => w.length))).toBe(1000);
    expect(writes.flat()).toEqual(Array.from({ length: 150_000 }, (_, i) => String(i)));
  });
});
