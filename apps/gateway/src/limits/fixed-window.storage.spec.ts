import { FixedWindowThrottlerStorage } from './fixed-window.storage';

describe('FixedWindowThrottlerStorage', () => {
  let now = 1_000_000;
  const storage = () => new FixedWindowThrottlerStorage(() => now);

  it('counts each caller on its own and blocks past the limit until the window ends', async () => {
    const s = storage();
    for (let i = 1; i <= 3; i++) {
      expect(await s.increment('alice', 60_000, 3)).toMatchObject({
        totalHits: i,
        isBlocked: false,
        timeToBlockExpire: 0,
      });
    }
    expect((await s.increment('bob', 60_000, 3)).totalHits).toBe(1);
    now += 20_000;
    expect(await s.increment('alice', 60_000, 3)).toEqual({
      totalHits: 4,
      timeToExpire: 40,
      isBlocked: true,
      timeToBlockExpire: 40,
    });
    now += 40_000;
    expect(await s.increment('alice', 60_000, 3)).toMatchObject({
      totalHits: 1,
      isBlocked: false,
    });
  });

  it('drops ended windows, so callers that went away are not kept', async () => {
    const s = storage();
    for (let i = 0; i < 100; i++) await s.increment(`caller-${i}`, 1_000, 10);
    expect(s.size).toBe(100);
    now += 1_000;
    await s.increment('late', 1_000, 10);
    expect(s.size).toBe(1);
  });
});
