import { Entity, Ref } from './octane.model';
import { matches, parseQuery, QueryError } from './octane.query';

const role = (id: string, name: string): Entity => ({
  type: 'role',
  id,
  name,
  logical_name: `role.${name}`,
});
const roles = [role('1', 'Admin'), role('2', 'Tester'), role('3', "O'Brien (lead)")];
const entity = (id: string, roleId: string | null): Entity => ({
  type: 'workspace_role',
  id,
  role: roleId === null ? null : { type: 'role', id: roleId },
  workspace: null,
});
const resolve = (ref: Ref) => roles.find((r) => r.id === ref.id);
const run = (query: string, e: Entity) => matches(e, parseQuery(query)!, resolve);

describe('Octane query language', () => {
  it.each([
    ['"id=5"', true],
    ['id EQ 5', true],
    ['(id EQ 5)', true],
    ['id EQ ^5^', true],
    ["id EQ '5'", true],
    ['id=6', false],
    ['!id=6', true],
    ['!(id=5)', false],
    ['id IN 4,5,6', true],
    ['id IN 7,8', false],
    ['id BTW 1...5', true],
    ['id BTW 6...9', false],
    ['id \u2026 5', 'error'],
    ['id GT 4;id LT 6', true],
    ['id GE 5;id LE 5', true],
    ['id=1||id=5', true],
    ['id=1;id=5||id=5', true],
    ['id=1;(id=5||id=5)', false],
    ['role={id=1}', true],
    ['role EQ {name EQ ^Admin^}', true],
    ["role={name='Ad*'}", true],
    ["role={name='Tes*'}", false],
    ['role={null}', false],
    ['workspace={null}', true],
    ['workspace=null', true],
    ["role={name='O\\'Brien \\(lead\\)'}", false],
  ])('%s -> %s', (query, expected) => {
    const e = entity('5', '1');
    if (expected === 'error') expect(() => run(query, e)).toThrow(QueryError);
    else expect(run(query, e)).toBe(expected);
  });

  it('reads escaped quotes and parentheses inside strings', () => {
    expect(run("role={name='O\\'Brien \\(lead\\)'}", entity('9', '3'))).toBe(true);
  });

  it.each([
    'id=',
    '(id=1',
    'id=1)',
    'id ~ 1',
    "name='open",
    'id=1;',
    '{id=1}',
    'id IN',
    'name=bare',
  ])('rejects %s', (query) => {
    expect(() => run(query, entity('1', '1'))).toThrow(QueryError);
  });

  it('names the unknown field', () => {
    try {
      run('colour=1', entity('1', '1'));
      throw new Error('expected a QueryError');
    } catch (error) {
      expect((error as QueryError).unknownField).toEqual({
        entityType: 'workspace_role',
        field: 'colour',
      });
    }
  });

  it('treats an empty or quoted-empty query as no filter', () => {
    expect(parseQuery('')).toBeUndefined();
    expect(parseQuery('""')).toBeUndefined();
  });
});
