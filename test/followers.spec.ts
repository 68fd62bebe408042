import { Followers } from '../src/notifications/pool/followers';

describe('Followers', () => {
  it('wants the followers of a claimed delivery that had rows behind it, once it settles', () => {
    const f = new Followers();
    f.entered('a', true);
    f.entered('b', false);
    expect(f.settled('b')).toBe(false);
    expect(f.hasWanted).toBe(false);
    expect(f.settled('a')).toBe(true);
    expect(f.takeWanted(10)).toEqual(['a']);
    expect(f.hasWanted).toBe(false);
    expect(f.settled('a')).toBe(false); // once
  });

  it('expects followers for rows committed while a delivery of the incident is in the pool, not after it left', () => {
    const f = new Followers();
    f.entered('a', false);
    f.committed(['a', 'b']);
    expect(f.settled('b')).toBe(false);
    f.left('a');
    f.committed(['a']); // nothing in the pool: a full claim finds these rows
    expect(f.settled('a')).toBe(true); // from the commit while it was in the pool
    f.entered('c', false);
    f.entered('c', false);
    f.left('c');
    f.committed(['c']); // one of its two deliveries is still in the pool
    expect(f.settled('c')).toBe(true);
  });

  it('hands wanted incidents out in batches, and a full claim clears them', () => {
    const f = new Followers();
    for (const id of ['a', 'b', 'c']) {
      f.entered(id, true);
      f.settled(id);
    }
    expect(f.takeWanted(2)).toEqual(['a', 'b']);
    expect(f.hasWanted).toBe(true);
    f.clearWanted();
    expect(f.takeWanted(2)).toEqual([]);
  });
});
