import type { OctaneListQuery, VendorResponse } from '@app/upstream';

/** A vendor list body's entries. */
type Entry = { id?: unknown };

const idOf = (e: Entry): string => String(e?.id ?? '').toLowerCase();

/**
 * A Qwiet token list as a member sees it: only the tokens their team owns in Keygate's inventory
 * (never Keygate's own token, another team's, or one Keygate did not issue). The envelope is kept.
 */
export function qwietListForTeam(body: unknown, owned: ReadonlySet<string>): unknown {
  const list = (body as { response?: unknown } | null)?.response;
  if (!Array.isArray(list)) return body;
  return { ...(body as object), response: list.filter((e: Entry) => owned.has(idOf(e))) };
}

/** Octane's page size cap: the member's view is assembled from pages of this size. */
export const OCTANE_PAGE = 1000;
/** At most this many pages are read for one member's list (1,000,000 keys in one shared space). */
export const OCTANE_MAX_PAGES = 1000;
/** Octane's default page size, for a caller who names none. */
const OCTANE_DEFAULT_LIMIT = 100;

/**
 * An Octane api_accesses list as a member sees it: the vendor's list with the caller's query,
 * order and fields, read page after page (OCTANE_PAGE at a time), cut to the keys the member's
 * team owns (stopping once every one of them has been seen), then paged with the caller's offset and
 * limit; total_count counts what the member
 * may see, so it matches the pages they get. A vendor error on any page is answered as it is.
 */
export async function octaneListForTeam(
  list: (query: OctaneListQuery) => Promise<VendorResponse>,
  query: OctaneListQuery,
  owned: ReadonlySet<string>,
): Promise<VendorResponse> {
  const { limit, offset, ...rest } = query;
  const kept: Entry[] = [];
  const seen = new Set<string>();
  let first: VendorResponse | undefined;
  for (let page = 0; page < OCTANE_MAX_PAGES; page++) {
    // A team that owns nothing here still gets the vendor's answer to its query (errors included).
    const size = owned.size === 0 ? 1 : OCTANE_PAGE;
    const answer = await list({ ...rest, limit: size, offset: page * OCTANE_PAGE });
    if (answer.status !== 200) return answer;
    first ??= answer;
    const body = answer.body as { data?: unknown; total_count?: unknown };
    const data = Array.isArray(body.data) ? (body.data as Entry[]) : [];
    for (const e of data) {
      const id = idOf(e);
      // A key that moved between pages while they were read is shown once.
      if (!owned.has(id) || seen.has(id)) continue;
      seen.add(id);
      kept.push(e);
    }
    const total = typeof body.total_count === 'number' ? body.total_count : undefined;
    // Done: the vendor has no more, or every key the team owns has been seen.
    if (
      owned.size === 0 ||
      seen.size === owned.size ||
      data.length < OCTANE_PAGE ||
      (total !== undefined && (page + 1) * OCTANE_PAGE >= total)
    )
      break;
  }
  const from = Number(offset ?? 0);
  const size = Number(limit ?? OCTANE_DEFAULT_LIMIT);
  return {
    ...(first as VendorResponse),
    body: {
      ...(first as VendorResponse & { body: object }).body,
      total_count: kept.length,
      data: kept.slice(from, from + size),
      exceeds_total_count: false,
    },
  };
}
