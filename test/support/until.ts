/**
 * Polls a condition that background work makes true (a lost answer settled after the caller got
 * its error) until it holds; bounded, so a test fails instead of hanging.
 */
export async function until<T>(probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
