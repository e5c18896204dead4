import { Entity, EntityModel, fieldKind, MODELS, Ref, Resolve } from './octane.model';

/**
 * Octane's `query=` language, the subset its clients use:
 *   phrase      := field op value | '(' expr ')' | '!' phrase
 *   op          := EQ | '=' | LT | GT | LE | GE | IN (a list) | BTW (low ... high)
 *   value       := number | true | false | null | 'string' | ^string^ | {expr} | {null}
 *   expr        := and ( '||' and )*      and := phrase ( ';' phrase )*
 * Precedence: () then ! then ; then ||. A trailing `*` in a string means "starts with".
 */
export type Value =
  { kind: 'literal'; value: string | number | boolean | null } | { kind: 'sub'; expr: Expr | null };

export type Expr =
  | { kind: 'and' | 'or'; parts: Expr[] }
  | { kind: 'not'; expr: Expr }
  | { kind: 'cmp'; field: string; op: string; values: Value[] };

export class QueryError extends Error {
  constructor(
    message: string,
    readonly unknownField?: { entityType: string; field: string },
  ) {
    super(message);
  }
}

type Token =
  | { t: 'punct'; v: '(' | ')' | '{' | '}' | ';' | '||' | '!' | ',' | '...' | '=' }
  | { t: 'ident'; v: string }
  | { t: 'number'; v: number }
  | { t: 'string'; v: string }
  | { t: 'special'; v: string };

const OPS = new Set(['EQ', '=', 'LT', 'GT', 'LE', 'GE', 'IN', 'BTW']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith('||', i)) {
      tokens.push({ t: 'punct', v: '||' });
      i += 2;
    } else if (text.startsWith('...', i) || c === '\u2026') {
      tokens.push({ t: 'punct', v: '...' });
      i += c === '\u2026' ? 1 : 3;
    } else if ('(){};!,='.includes(c)) {
      tokens.push({ t: 'punct', v: c as '(' });
      i++;
    } else if (c === "'" || c === '^') {
      let value = '';
      let j = i + 1;
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        value += text[j++];
      }
      if (j >= text.length) throw new QueryError(`unterminated string at position ${i}`);
      tokens.push({ t: 'string', v: value });
      i = j + 1;
    } else if (c === '[') {
      const end = text.indexOf(']', i);
      if (end < 0) throw new QueryError(`unterminated [ at position ${i}`);
      tokens.push({ t: 'special', v: text.slice(i, end + 1) });
      i = end + 1;
    } else {
      const m = /^(-?\d+(?:\.\d+)?)(?!\w)|^([A-Za-z_]\w*)/.exec(text.slice(i));
      const num = m?.[1];
      if (num !== undefined) {
        tokens.push({ t: 'number', v: Number(num) });
        i += num.length;
      } else if (m?.[2] !== undefined) {
        tokens.push({ t: 'ident', v: m[2] });
        i += m[2].length;
      } else {
        throw new QueryError(`unexpected character '${c}' at position ${i}`);
      }
    }
  }
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): Expr {
    const expr = this.or();
    if (this.pos < this.tokens.length) throw new QueryError('unexpected input after the query');
    return expr;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isPunct(v: string): boolean {
    const tok = this.peek();
    return tok?.t === 'punct' && tok.v === v;
  }

  private expect(v: string): void {
    if (!this.isPunct(v)) throw new QueryError(`expected '${v}'`);
    this.pos++;
  }

  private or(): Expr {
    const parts = [this.and()];
    while (this.isPunct('||')) {
      this.pos++;
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0] : { kind: 'or', parts };
  }

  private and(): Expr {
    const parts = [this.phrase()];
    while (this.isPunct(';')) {
      this.pos++;
      parts.push(this.phrase());
    }
    return parts.length === 1 ? parts[0] : { kind: 'and', parts };
  }

  private phrase(): Expr {
    if (this.isPunct('!')) {
      this.pos++;
      return { kind: 'not', expr: this.phrase() };
    }
    if (this.isPunct('(')) {
      this.pos++;
      const expr = this.or();
      this.expect(')');
      return expr;
    }
    const field = this.peek();
    if (field?.t !== 'ident') throw new QueryError('expected a field name');
    this.pos++;
    const opTok = this.peek();
    const op = opTok?.t === 'ident' || opTok?.t === 'punct' ? opTok.v : undefined;
    if (op === undefined || !OPS.has(op))
      throw new QueryError(`expected an operator after ${field.v}`);
    this.pos++;
    const values = [this.value()];
    if (op === 'IN') {
      while (this.isPunct(',')) {
        this.pos++;
        values.push(this.value());
      }
    } else if (op === 'BTW') {
      this.expect('...');
      values.push(this.value());
    }
    return { kind: 'cmp', field: field.v, op: op === '=' ? 'EQ' : op, values };
  }

  private value(): Value {
    const tok = this.peek();
    if (!tok) throw new QueryError('expected a value');
    this.pos++;
    switch (tok.t) {
      case 'number':
      case 'string':
      case 'special':
        return { kind: 'literal', value: tok.v };
      case 'ident':
        if (tok.v === 'true' || tok.v === 'false')
          return { kind: 'literal', value: tok.v === 'true' };
        if (tok.v === 'null') return { kind: 'literal', value: null };
        throw new QueryError(`unexpected word ${tok.v}; strings are quoted`);
      case 'punct':
        if (tok.v !== '{') throw new QueryError(`unexpected '${tok.v}'`);
        if (this.peek()?.t === 'ident' && (this.peek() as { v: string }).v === 'null') {
          this.pos++;
          this.expect('}');
          return { kind: 'sub', expr: null };
        }
        {
          const expr = this.or();
          this.expect('}');
          return { kind: 'sub', expr };
        }
    }
  }
}

/** Parses the `query` parameter; accepts it with or without the surrounding double quotes. */
export function parseQuery(raw: string): Expr | undefined {
  let text = raw.trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1);
  if (text.trim() === '') return undefined;
  return new Parser(tokenize(text)).parse();
}

const numeric = (v: unknown): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return undefined;
};

function equals(actual: unknown, expected: string | number | boolean | null): boolean {
  if (expected === null) return actual === null || actual === undefined;
  if (typeof expected === 'string' && expected.endsWith('*') && typeof actual === 'string') {
    return actual.startsWith(expected.slice(0, -1));
  }
  const a = numeric(actual);
  const e = numeric(expected);
  if (a !== undefined && e !== undefined) return a === e;
  return String(actual) === String(expected);
}

function compare(actual: unknown, expected: unknown): number | undefined {
  if (actual === null || actual === undefined) return undefined;
  const a = numeric(actual);
  const e = numeric(expected);
  if (a !== undefined && e !== undefined) return a - e;
  return String(actual).localeCompare(String(expected));
}

function literal(value: Value, field: string): string | number | boolean | null {
  if (value.kind !== 'literal') throw new QueryError(`${field} is not a reference field`);
  return value.value;
}

export function matches(entity: Entity, expr: Expr, resolve: Resolve): boolean {
  const model = MODELS[entity.type];
  switch (expr.kind) {
    case 'and':
      return expr.parts.every((p) => matches(entity, p, resolve));
    case 'or':
      return expr.parts.some((p) => matches(entity, p, resolve));
    case 'not':
      return !matches(entity, expr.expr, resolve);
    case 'cmp':
      return compareField(entity, model, expr, resolve);
  }
}

function compareField(
  entity: Entity,
  model: EntityModel,
  expr: Extract<Expr, { kind: 'cmp' }>,
  resolve: Resolve,
): boolean {
  const { field, op, values } = expr;
  const kind = field === 'id' ? 'plain' : fieldKind(model, field);
  if (kind === undefined) {
    throw new QueryError(`unknown field ${field}`, { entityType: model.type, field });
  }
  const actual = entity[field];
  if (kind === 'plain') {
    const lits = values.map((v) => literal(v, field));
    switch (op) {
      case 'EQ':
      case 'IN':
        return lits.some((l) => equals(actual, l));
      case 'BTW': {
        const lo = compare(actual, lits[0]);
        const hi = compare(actual, lits[1]);
        return lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
      }
      default: {
        const d = compare(actual, lits[0]);
        if (d === undefined) return false;
        return op === 'LT' ? d < 0 : op === 'GT' ? d > 0 : op === 'LE' ? d <= 0 : d >= 0;
      }
    }
  }
  if (op !== 'EQ' && op !== 'IN')
    throw new QueryError(`${op} does not apply to reference ${field}`);
  const refs: Ref[] =
    kind === 'ref' ? (actual ? [actual as Ref] : []) : ((actual as Ref[] | undefined) ?? []);
  return values.some((value) => {
    if (value.kind === 'literal') {
      if (value.value === null) return refs.length === 0;
      throw new QueryError(`reference ${field} is filtered with {...}`);
    }
    if (value.expr === null) return refs.length === 0;
    const sub = value.expr;
    return refs.some((ref) => {
      const target = resolve(ref);
      return target !== undefined && matches(target, sub, resolve);
    });
  });
}
