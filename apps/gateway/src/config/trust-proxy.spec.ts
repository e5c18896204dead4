import { parseTrustProxy } from './trust-proxy';

describe('parseTrustProxy (TRUST_PROXY)', () => {
  const parse = (raw: string | undefined) => {
    const problems: string[] = [];
    return { value: parseTrustProxy(raw, problems), problems };
  };

  it('is off when unset or blank', () => {
    expect(parse(undefined)).toEqual({ value: undefined, problems: [] });
    expect(parse('  ')).toEqual({ value: undefined, problems: [] });
  });

  it('takes a hop count', () => {
    expect(parse('1')).toEqual({ value: 1, problems: [] });
    expect(parse('0').problems).toEqual([expect.stringMatching(/hop count must be 1-10/)]);
    expect(parse('11').problems).toHaveLength(1);
  });

  it('takes addresses and CIDRs of both families', () => {
    expect(parse('127.0.0.1, 10.0.0.0/8,::1,fd00::/8')).toEqual({
      value: ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8'],
      problems: [],
    });
  });

  it.each([
    'true',
    'proxy.internal',
    '10.0.0.0/33',
    '::1/129',
    '10.0.0.1,',
    '1.2.3.4/8/1',
    '10.0.0/8',
  ])('names what is wrong with %s', (raw) => {
    const { value, problems } = parse(raw);
    expect(value).toBeUndefined();
    expect(problems).toEqual([expect.stringMatching(/^TRUST_PROXY/)]);
  });
});
