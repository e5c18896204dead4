import type { SimResponse } from '../http/router';
import { octaneError, unknownField } from './octane.errors';
import { Entity, EntityModel, fieldKind, MODELS, Ref, Resolve } from './octane.model';
import { matches, parseQuery, QueryError } from './octane.query';

/** `fields=a,b{c,d}`: field name -> requested sub-fields of a reference (undefined = its defaults). */
export type FieldSelection = Map<string, string[] | undefined>;

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export class CollectionError extends Error {
  constructor(readonly response: SimResponse) {
    super('invalid collection parameters');
  }
}

export function parseFields(raw: string | null, model: EntityModel): FieldSelection | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const selection: FieldSelection = new Map();
  const re = /\s*([A-Za-z_]\w*)\s*(?:\{([^{}]*)\})?\s*(?:,|$)/y;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while (consumed < raw.length && (m = re.exec(raw)) !== null && m[0] !== '') {
    consumed = re.lastIndex;
    const [, name, sub] = m;
    if (name !== 'id' && name !== 'type' && fieldKind(model, name) === undefined) {
      throw new CollectionError(unknownField(model.type, name));
    }
    selection.set(
      name,
      sub
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
  if (consumed < raw.length) {
    throw new CollectionError(
      octaneError(400, 'platform.general_error', `Illegal fields parameter: ${raw}`),
    );
  }
  return selection;
}

function refView(ref: Ref, resolve: Resolve, sub: string[] | undefined): Record<string, unknown> {
  const target = resolve(ref);
  const view: Record<string, unknown> = { type: ref.type, id: ref.id };
  if (!target) return view;
  for (const name of sub ?? MODELS[ref.type]?.refFields ?? []) {
    if (Object.hasOwn(target, name)) view[name] = target[name];
  }
  return view;
}

/** An entity as Octane returns it: `type` and `id` always, then the selected (or all) fields. */
export function project(
  entity: Entity,
  resolve: Resolve,
  selection?: FieldSelection,
): Record<string, unknown> {
  const model = MODELS[entity.type];
  const out: Record<string, unknown> = { type: entity.type, id: entity.id };
  const names = selection
    ? [...new Set([...selection.keys(), ...model.alwaysReturned])]
    : Object.keys(model.fields);
  for (const name of names) {
    const kind = fieldKind(model, name);
    if (kind === undefined) continue;
    const value = entity[name];
    const sub = selection?.get(name);
    if (kind === 'plain') out[name] = value ?? null;
    else if (kind === 'ref') out[name] = value ? refView(value as Ref, resolve, sub) : null;
    else {
      const refs = (value as Ref[] | undefined) ?? [];
      out[name] = { total_count: refs.length, data: refs.map((r) => refView(r, resolve, sub)) };
    }
  }
  return out;
}

function nonNegativeInt(
  raw: string | null,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (raw === null) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new CollectionError(
      octaneError(
        400,
        'platform.general_error',
        `${name} must be an integer from ${min} to ${max}`,
      ),
    );
  }
  return n;
}

function sortKey(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  const na = Number(a);
  const nb = Number(b);
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return String(a).localeCompare(String(b));
}

function order(entities: Entity[], raw: string | null, model: EntityModel): Entity[] {
  const keys = (raw ?? 'id')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k) => ({ field: k.replace(/^-/, ''), desc: k.startsWith('-') }));
  for (const { field } of keys) {
    if (field !== 'id' && fieldKind(model, field) !== 'plain') {
      throw new CollectionError(unknownField(model.type, field));
    }
  }
  return [...entities].sort((a, b) => {
    for (const { field, desc } of keys) {
      const d = sortKey(a[field], b[field]);
      if (d !== 0) return desc ? -d : d;
    }
    return 0;
  });
}

/** GET on a collection: query filter, order_by, offset/limit, fields, in Octane's list envelope. */
export function listCollection(
  entities: Entity[],
  model: EntityModel,
  params: URLSearchParams,
  resolve: Resolve,
): SimResponse {
  try {
    const selection = parseFields(params.get('fields'), model);
    const limit = nonNegativeInt(params.get('limit'), 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT;
    const offset = nonNegativeInt(params.get('offset'), 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const query = parseQuery(params.get('query') ?? '');
    const filtered = query ? entities.filter((e) => matches(e, query, resolve)) : entities;
    const page = order(filtered, params.get('order_by'), model).slice(offset, offset + limit);
    return {
      status: 200,
      body: {
        total_count: filtered.length,
        data: page.map((e) => project(e, resolve, selection)),
        exceeds_total_count: false,
      },
    };
  } catch (error) {
    if (error instanceof CollectionError) return error.response;
    if (error instanceof QueryError) {
      return error.unknownField
        ? unknownField(error.unknownField.entityType, error.unknownField.field)
        : octaneError(400, 'platform.general_error', `Illegal query: ${error.message}`);
    }
    throw error;
  }
}
