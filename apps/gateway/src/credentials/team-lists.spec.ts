import type { OctaneListQuery, VendorResponse } from '@app/upstream';
import { OCTANE_PAGE, octaneListForTeam, qwietListForTeam } from './team-lists';

/**
 * A shared space of `count` keys (ids 1..count) answered as Octane answers a list: offset and
 * limit over the whole, total_count of the whole. Records every call.
 */
function space(count: number) {
  const calls: OctaneListQuery[] = [];
  let keys = Array.from({ length: count }, (_, i) => ({ type: 'api_access', id: String(i + 1) }));
  const list = (query: OctaneListQuery): Promise<VendorResponse> => {
    calls.push(query);
    const from = query.offset ?? 0;
    return Promise.resolve({
      status: 200,
      body: {
        total_count: keys.length,
        data: keys.slice(from, from + (query.limit ?? 100)),
        exceeds_total_count: false,
      },
    });
  };
  return {
    calls,
    list,
    /** A key created before the ones listed so far: every later page shifts by one. */
    shift: () => (keys = [{ type: 'api_access', id: '0' }, ...keys]),
  };
}

describe("the members' vendor lists", () => {
  it('Octane: keys of the team spread over several vendor pages, counted and paged as Octane would', async () => {
    const s = space(2 * OCTANE_PAGE + 500);
    const owned = new Set(['3', String(OCTANE_PAGE + 7), String(2 * OCTANE_PAGE + 499)]);
    const all = await octaneListForTeam(s.list, { query: '"x"', order_by: 'id' }, owned);
    expect(all.body).toEqual({
      total_count: 3,
      data: [...owned].map((id) => ({ type: 'api_access', id })),
      exceeds_total_count: false,
    });
    expect(s.calls).toEqual(
      [0, 1, 2].map((p) => ({
        query: '"x"',
        order_by: 'id',
        limit: OCTANE_PAGE,
        offset: p * OCTANE_PAGE,
      })),
    );

    const page = await octaneListForTeam(s.list, { limit: 1, offset: 1 }, owned);
    expect(page.body).toMatchObject({ total_count: 3, data: [{ id: String(OCTANE_PAGE + 7) }] });
  });

  it('Octane: stops once every key the team owns has been seen; one small call when it owns none', async () => {
    const s = space(5 * OCTANE_PAGE);
    await octaneListForTeam(s.list, {}, new Set(['10', '20']));
    expect(s.calls).toHaveLength(1);
    const none = space(5 * OCTANE_PAGE);
    const empty = await octaneListForTeam(none.list, { limit: 50 }, new Set());
    expect(none.calls).toEqual([{ limit: 1, offset: 0 }]);
    expect(empty.body).toEqual({ total_count: 0, data: [], exceeds_total_count: false });
  });

  it('Octane: a key seen twice while the pages shift is shown once; a vendor error is answered as it is', async () => {
    const s = space(OCTANE_PAGE + 10);
    const owned = new Set([String(OCTANE_PAGE), String(OCTANE_PAGE + 5), 'missing']);
    const list = async (q: OctaneListQuery) => {
      const answer = await s.list(q);
      if (q.offset === 0) s.shift();
      return answer;
    };
    const answer = await octaneListForTeam(list, {}, owned);
    expect((answer.body as { data: { id: string }[] }).data.map((k) => k.id)).toEqual([
      String(OCTANE_PAGE),
      String(OCTANE_PAGE + 5),
    ]);
    expect((answer.body as { total_count: number }).total_count).toBe(2);

    const refused = { status: 400, body: { error_code: 'platform.general_error' } };
    expect(await octaneListForTeam(() => Promise.resolve(refused), {}, owned)).toBe(refused);
  });

  it('Qwiet: only the owned tokens, the envelope kept; an unexpected body passes as it is', () => {
    const body = { ok: true, response: [{ id: 'A-1' }, { id: 'b-2' }, { id: 'c-3' }] };
    expect(qwietListForTeam(body, new Set(['a-1', 'c-3']))).toEqual({
      ok: true,
      response: [{ id: 'A-1' }, { id: 'c-3' }],
    });
    expect(qwietListForTeam({ ok: false }, new Set(['a-1']))).toEqual({ ok: false });
  });
});
