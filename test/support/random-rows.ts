// Seeded random rows over many built-in types, as SQL literals, for live tests against the server's output.

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const COLUMNS: [string, string][] = [
  ['b', 'bool'], ['i2', 'int2'], ['i4', 'int4'], ['i8', 'int8'], ['f4', 'float4'], ['f8', 'float8'], ['n', 'numeric'],
  ['t', 'text'], ['vc', 'varchar(30)'], ['bp', 'char(7)'], ['nm', 'name'], ['ch', '"char"'], ['by', 'bytea'],
  ['d', 'date'], ['tm', 'time'], ['ttz', 'timetz'], ['ts', 'timestamp'], ['tstz', 'timestamptz'], ['iv', 'interval'],
  ['u', 'uuid'], ['j', 'json'], ['jb', 'jsonb'], ['l', 'pg_lsn'], ['ip', 'inet'], ['cd', 'cidr'], ['mac', 'macaddr'],
  ['m', 'money'], ['bt', 'bit(12)'], ['vb', 'varbit'], ['o', 'oid'], ['x', 'xid'], ['e', 'mood'],
  ['ia', 'int4[]'], ['ta', 'text[]'], ['na', 'numeric[]'], ['f8a', 'float8[]'], ['tsa', 'timestamptz[]'], ['i2d', 'int2[]'],
  ['r4', 'int4range'], ['rn', 'numrange'], ['rts', 'tstzrange'], ['rd', 'daterange'], ['rt', 'textrange'],
];

/** One random row as SQL literals; server-side expressions keep the text exact. */
export function randomRow(r: () => number, id: number): string {
  const int = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));
  const pick = <T,>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const maybe = (s: string): string => (r() < 0.1 ? 'null' : s);
  const digits = (n: number): string => Array.from({ length: n }, () => int(0, 9)).join('');
  const str = (): string => pick(["it's", 'plain', 'ünï "q" \\ back', 'tab\there', '', 'NULL', 'a,b{c}', 'x'.repeat(int(1, 300))]);
  const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;
  const values = [
    maybe(pick(['true', 'false'])),
    maybe(String(int(-32768, 32767))),
    maybe(String(int(-2147483648, 2147483647))),
    maybe(`${pick(['-', ''])}${digits(int(1, 18))}`),
    maybe(pick([`${(r() - 0.5) * 10 ** int(-40, 38)}::float4`, "'NaN'", "'-Infinity'", '1e-45::float4', '3.4028235e38', '0.1', '-0'])),
    maybe(pick([`${(r() - 0.5) * 10 ** int(-300, 300)}::float8`, "'Infinity'", '5e-324', '1e15', '1e-5', '123456789012345678', '0.1', '-0'])),
    maybe(pick([`${pick(['-', ''])}${digits(int(1, 30))}.${digits(int(0, 25))}`, "'NaN'", "'Infinity'", '0.000', `1e${int(-30, 30)}::numeric`, '0'])),
    maybe(q(str())),
    maybe(q(str().slice(0, 30))),
    maybe(q(pick(['ab', '', 'seven77', ' x']))),
    maybe(q(pick(['n', 'name with space', 'é'.repeat(20)]))),
    maybe(q(pick(['a', 'Z', ' ', '']))),
    maybe(`decode('${Array.from({ length: int(0, 40) }, () => int(0, 255).toString(16).padStart(2, '0')).join('')}', 'hex')`),
    maybe(pick([`date '2000-01-01' + ${int(-800000, 800000)}`, "'infinity'", "'-infinity'", "'4713-01-01 BC'", "'0044-03-15 BC'", "'5874897-12-31'"])),
    maybe(`time '00:00' + interval '${int(0, 86399999999)} microseconds'`),
    maybe(q(`${int(0, 23)}:${int(0, 59)}:${int(0, 59)}.${int(0, 999999)}${pick(['+00', '-05:30', '+14', '-12:45', '+03:07:12'])}`)),
    maybe(pick([`timestamp '2000-01-01' + interval '${int(-3e9, 3e9)} seconds' + interval '${int(0, 999999)} microseconds'`, "'infinity'", "'1200-03-04 05:06:07 BC'", "'294276-12-31 23:59:59.999999'"])),
    maybe(pick([`timestamptz '2000-01-01 00:00+00' + interval '${int(-3e9, 3e9)} seconds'`, "'-infinity'", "'1999-12-31 23:59:59.5-08'"])),
    maybe(pick([`make_interval(${int(-50, 50)}, ${int(-11, 11)}, 0, ${int(-40, 40)}, ${int(-30, 30)}, ${int(-59, 59)}, ${(r() * 60).toFixed(6)})`, "'0'", "'-1 days -00:00:01'", "'1 mon -1 day'", "'178000000 years'"])),
    maybe(`'${Array.from({ length: 32 }, () => int(0, 15).toString(16)).join('').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')}'`),
    maybe(q(pick(['{"b": 1, "a": [1,2]}', '[]', 'null', '"x\\ny"', '{ "spaced" :  true }']))),
    maybe(q(pick(['{"b": 1, "a": [true, null, "x\\ny"], "ccc": 1.50}', '[]', '{}', '"s"', '12.300', '{"deep": {"d": [1, {"x": "y"}]}, "k": -1.5e-10}', '[1, "two", null, false, {"a": []}]']))),
    maybe(q(`${int(0, 0x1fffff).toString(16).toUpperCase()}/${int(0, 0xffffffff).toString(16).toUpperCase()}`)),
    maybe(q(pick([`${int(0, 255)}.${int(0, 255)}.${int(0, 255)}.${int(0, 255)}`, `10.0.0.1/${int(0, 32)}`, '::1', '2001:db8::ff00:42:8329/64', '::ffff:1.2.3.4', 'fe80::1:0:0:0', '1:0:0:1:0:0:0:1']))),
    maybe(q(pick(['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32', '0.0.0.0/0', '1.2.3.4/32']))),
    maybe(q(Array.from({ length: 6 }, () => int(0, 255).toString(16).padStart(2, '0')).join(':'))),
    maybe(`'${pick(['-', ''])}${int(0, 99999999)}.${int(0, 99)}'::money`),
    maybe(`B'${Array.from({ length: 12 }, () => int(0, 1)).join('')}'`),
    maybe(`B'${Array.from({ length: int(0, 40) }, () => int(0, 1)).join('')}'`),
    maybe(String(int(0, 4294967295))),
    maybe(q(String(int(0, 4294967295)))),
    maybe(q(pick(['sad', 'ok', 'happy']))),
    maybe(pick([`'{${Array.from({ length: int(0, 6) }, () => (r() < 0.2 ? 'NULL' : int(-1e9, 1e9))).join(',')}}'`, "'[0:2]={1,2,3}'", "'{{1,2},{3,4}}'"])),
    maybe(pick([`ARRAY[${Array.from({ length: int(1, 5) }, () => (r() < 0.2 ? 'NULL' : q(str().slice(0, 20)))).join(',')}]::text[]`, "'{}'"])),
    maybe(`'{${Array.from({ length: int(1, 4) }, () => `${digits(int(1, 8))}.${digits(int(0, 6))}`).join(',')},NaN}'`),
    maybe(`ARRAY[${(r() - 0.5) * 1e10}, 0.1, 1e300, 'Infinity']::float8[]`),
    maybe(`ARRAY['2024-01-01 00:00:00+00', 'infinity', '1999-12-31 23:59:59.5-08']::timestamptz[]`),
    maybe(`'{{1,2,3},{4,NULL,6}}'::int2[]`),
    maybe(pick([`int4range(${int(-100, 0)}, ${int(1, 100)}, '${pick(['[)', '[]', '(]', '()'])}')`, "'empty'", "'(,5]'", "'[3,)'", "'(,)'"])),
    maybe(pick([`numrange(${int(-9, 0)}.${digits(3)}, ${int(1, 9)}.${digits(2)}, '[]')`, "'(,1.5)'"])),
    maybe(pick(["'[2024-01-01 00:00:00+00,2024-06-30 12:00:00.5+00)'", "'(,infinity]'", "'empty'"])),
    maybe(pick([`daterange(date '2000-01-01' + ${int(0, 9000)}, date '2030-01-01', '[]')`, "'[-infinity,2000-01-01)'"])),
    maybe(pick(["'[a,z)'", `'["a space","q\\"x")'`, "'(\"\",b]'", "'[,)'"])),
  ];
  return `(${id}, ${values.join(', ')})`;
}


/** A seeded xorshift32: rand(n) in [0, n) (an LCG's low bits repeat with a short period). */
export function xorshift(seed: number): (n: number) => number {
  return (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
}
