// Seeded random rows over composite types, domains, multiranges, arrays of these, and the less common built-in
// types (geometric, text search, snapshots, xml, vectors, tid, macaddr8, regtype), as SQL for live tests.

/** Types and domains the columns use; composites with a dropped and an added attribute, nested. */
export const TYPES_SQL = [
  `create type mood as enum ('sad', 'ok', 'happy', 'it''s "odd"')`,
  'create type textrange as range (subtype = text)',
  'create type comp as (a int, gone text, b text, c numeric[])',
  'alter type comp drop attribute gone',
  'alter type comp add attribute d timestamptz',
  'create domain dint as int4',
  'create domain ddint as dint check (value > -1000000000)',
  'create domain dtext as text',
  'create domain dnum as numeric(12, 3)',
  'create domain darr as int[]',
  'create domain dmood as mood',
  'create domain drange as int4range',
  'create domain dcomp as comp',
  `create type comp2 as (x comp, y comp[], z int4range, w dint, m mood, tr textrange, mr int4multirange, f float8, e text)`,
  'create domain dcomp2 as comp2',
  // test_decoding's print_literal looks at the column's own type: a domain over bool, bit or float is quoted.
  'create domain dbool as bool',
  'create domain dbit as bit(3)',
  'create domain dfloat as float8',
  // A table's row type as a column type.
  'create table rowt (a int, b text, c mood[])',
];

export const TYPE_COLUMNS: [string, string][] = [
  ['c', 'comp'], ['c2', 'comp2'], ['rw', 'rowt'], ['ca', 'comp[]'], ['c2a', 'comp2[]'], ['dc', 'dcomp'], ['dc2', 'dcomp2'],
  ['d1', 'dint'], ['d2', 'ddint'], ['d3', 'dtext'], ['d4', 'dnum'], ['d5', 'darr'], ['d6', 'dmood'], ['d7', 'drange'], ['d8', 'dint[]'], ['d9', 'dtext[]'],
  ['db', 'dbool'], ['dbt', 'dbit'], ['dfl', 'dfloat'],
  ['m1', 'int4multirange'], ['m2', 'nummultirange'], ['m3', 'datemultirange'], ['m4', 'tstzmultirange'], ['m5', 'textmultirange'],
  ['m6', 'int8multirange'], ['m7', 'tsmultirange'], ['ma', 'int4multirange[]'], ['ra', 'int4range[]'], ['rta', 'textrange[]'], ['rna', 'numrange[]'],
  ['mac8', 'macaddr8'], ['ti', 'tid'], ['i2v', 'int2vector'], ['ov', 'oidvector'], ['pt', 'point'], ['ln', 'line'], ['ls', 'lseg'],
  ['bx', 'box'], ['pa', 'path'], ['pg', 'polygon'], ['ci', 'circle'], ['bxa', 'box[]'], ['pta', 'point[]'],
  ['tv', 'tsvector'], ['tq', 'tsquery'], ['ts', 'txid_snapshot'], ['ps', 'pg_snapshot'], ['x8', 'xid8'], ['xm', 'xml'], ['rt', 'regtype'], ['xma', 'xml[]'],
  ['jp', 'jsonpath'], ['jpa', 'jsonpath[]'],
  ['m8a', 'macaddr8[]'], ['tia', 'tid[]'], ['tva', 'tsvector[]'], ['tqa', 'tsquery[]'], ['pga', 'polygon[]'], ['paa', 'path[]'],
  ['cia', 'circle[]'], ['lna', 'line[]'], ['lsa', 'lseg[]'], ['sna', 'pg_snapshot[]'], ['x8a', 'xid8[]'], ['i2va', 'int2vector[]'], ['ova', 'oidvector[]'], ['rga', 'regtype[]'],
];

/** Text that needs quoting somewhere: quotes, backslashes, delimiters, white space, non-ASCII spaces, NULL. */
const TEXTS = [
  "it's", 'plain', 'ünï "q" \\ back', 'tab\there', 'nl\nhere', '', 'NULL', 'null', 'a,b{c}', '(x)', '[y]', 'sp ace', ' lead', 'trail ',
  'nbsp\u00a0x', 'ideo\u3000x', 'semi;colon', '"', '\\', 'x'.repeat(40),
];

export function randomTypesRow(r: () => number, id: number): string {
  const int = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const maybe = (s: string, p = 0.1): string => (r() < p ? 'null' : s);
  const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;
  // Now and then long: compressible (compressed inline) or not (moved out to the TOAST table).
  const text = (): string => {
    const k = r();
    if (k < 0.04) return `repeat(${q(pick(TEXTS))}, ${int(200, 900)})`;
    if (k < 0.07) return `(select string_agg(md5(g::text || '${int(0, 1e6)}'), '') from generate_series(1, ${int(50, 300)}) g)`;
    return q(pick(TEXTS));
  };
  const float = (): string => pick([`${(r() - 0.5) * 10 ** int(-20, 20)}`, '0.1', '-0', "'NaN'", "'Infinity'", '1e300', `${int(-100, 100)}`, '5e-324']);
  const num = (): string => pick([`${int(-99999, 99999)}.${int(0, 999)}`, "'NaN'", '0', `1e${int(-8, 8)}`]);
  const ts = (): string => pick([`timestamptz '2000-01-01 00:00+00' + interval '${int(-3e9, 3e9)} seconds'`, "'infinity'", "'1999-12-31 23:59:59.5-08'"]);
  const lo = int(-1000, 1000);
  const i4range = (): string => pick([`int4range(${lo}, ${lo + int(1, 50)}, '${pick(['[)', '[]', '(]', '()'])}')`, "'empty'::int4range", "'(,5]'::int4range", "'[3,)'::int4range", "'(,)'::int4range"]);
  const trange = (): string => pick(["'[a,z)'::textrange", `'["a space","q\\"x")'::textrange`, "'(\"\",b]'::textrange", "'[,)'::textrange", "'empty'::textrange", `textrange(${text()}, null)`]);
  const i4multi = (): string => pick([
    `int4multirange(${Array.from({ length: int(0, 4) }, () => i4range()).join(', ')})`,
    "'{}'",
    `'{[1,3), [5,7), [9,11), [13,15), [17,19), (20,)}'`,
  ]);
  const numArr = (): string => pick([`array[${num()}, null, ${num()}]::numeric[]`, "'{}'::numeric[]", `'{{1.5,2},{NaN,-3}}'::numeric[]`]);
  const comp = (): string => maybe(`row(${maybe(String(int(-1e9, 1e9)))}, ${maybe(text())}, ${maybe(numArr())}, ${maybe(ts())})::comp`, 0.15);
  const compArr = (): string =>
    pick([
      `array[${Array.from({ length: int(0, 3) }, () => comp()).join(', ')}]::comp[]`,
      `'{}'::comp[]`,
      `array[[${comp()}, ${comp()}], [${comp()}, ${comp()}]]::comp[]`,
      `'[0:1]={"(1,x,{},)",NULL}'::comp[]`,
    ]);
  const comp2 = (): string =>
    maybe(
      `row(${comp()}, ${maybe(compArr())}, ${maybe(i4range())}, ${maybe(String(int(-5, 5)))}, ${maybe(q(pick(['sad', 'ok', 'happy', 'it\'s "odd"'])))}, ${maybe(trange())}, ${maybe(i4multi())}, ${maybe(float())}, ${maybe(text())})::comp2`,
      0.15,
    );
  const dates = (): string => `datemultirange(${Array.from({ length: int(0, 3) }, (_, k) => `daterange(date '2000-01-01' + ${k * 1000 + int(0, 400)}, date '2000-01-01' + ${k * 1000 + int(401, 900)})`).join(', ')})`;
  const point = (): string => `point(${float()}, ${float()})`;
  const pts = (n: number): string => Array.from({ length: n }, () => `(${int(-50, 50)}.${int(0, 9)},${(r() * 1e-3).toExponential(3)})`).join(',');
  const lexeme = (): string => pick(['fat', 'cat', "it''s", 'back\\\\slash', 'über', 'a b', 'x']);
  const tsv = (): string =>
    pick([
      `$$${Array.from({ length: int(0, 6) }, () => `'${lexeme()}'${r() < 0.6 ? `:${Array.from({ length: int(1, 3) }, () => `${int(1, 16383)}${pick(['', 'A', 'B', 'C', 'D'])}`).join(',')}` : ''}`).join(' ')}$$::tsvector`,
      `to_tsvector('simple', ${text()})`,
      `setweight(to_tsvector('simple', 'the quick brown fox'), '${pick(['A', 'B', 'C', 'D'])}')`,
    ]);
  const tsqTerm = (): string => `'${lexeme()}'${pick(['', ':*', ':AB', ':*C', ':D'])}`;
  const tsqExpr = (depth: number): string => {
    if (depth <= 0 || r() < 0.3) return tsqTerm();
    const k = int(0, 4);
    if (k === 0) return `!${tsqExpr(depth - 1)}`;
    return `(${tsqExpr(depth - 1)} ${pick(['&', '|', '<->', `<${int(0, 5)}>`])} ${tsqExpr(depth - 1)})`;
  };
  const tsq = (): string => pick([`${q(tsqExpr(4))}::tsquery`, `${q(tsqExpr(2))}::tsquery && !!${q(tsqTerm())}::tsquery`, `''::tsquery`]);
  const mac8 = (): string => q(Array.from({ length: 8 }, () => int(0, 255).toString(16).padStart(2, '0')).join(':'));
  const tid = (): string => q(`(${int(0, 4294967295)},${int(0, 65535)})`);
  const snapshot = (): string => {
    const xmin = int(3, 1e6);
    const xip = Array.from({ length: int(0, 4) }, (_, k) => xmin + k * 3).join(',');
    return q(`${xmin}:${xmin + 20}:${xip}`);
  };
  const xml = (): string =>
    q(
      pick([
        '<a>x</a>',
        '<?xml version="1.0"?>\n<a/>',
        '<?xml version="1.1" standalone="yes"?><b>t</b>',
        '<?xml version="1.0" encoding="UTF-8" standalone="no" ?><d/>',
        "<?xml version='1.0'?><e a=\"it's\"/>",
        '\n<c/>',
        'plain text &amp; more',
        '<p>ünï "q" \\ {x}</p>',
        '',
      ]),
    );
  // jsonpath as 15 accepts it: accessors, filters, arithmetic and predicates, nested.
  const jpKey = (): string => pick(['a', 'b', '"a b"', '"q\\"x"', '"ünï"', '"$"', 'type']);
  // `@` only inside a filter (`at`), `last` only inside a subscript.
  const jpExpr = (depth: number, at: boolean): string => {
    const k = depth <= 0 ? int(0, 2) : int(0, 6);
    if (k === 0) return pick(['1', '-2.5', '1e3', '"s\\n"', 'null', 'true', '$v', '$"x y"']);
    if (k === 1 || k === 2) return jpPath(depth - 1, at && r() < 0.5 ? '@' : '$');
    if (k === 3) return `${pick(['-', '+'])}${jpExpr(depth - 1, at)}`;
    return `(${jpExpr(depth - 1, at)} ${pick(['+', '-', '*', '/', '%'])} ${jpExpr(depth - 1, at)})`;
  };
  const jpPred = (depth: number, at: boolean): string => {
    const k = depth <= 0 ? int(0, 1) : int(0, 7);
    const root = at ? '@' : '$';
    if (k === 0) return `${jpExpr(depth - 1, at)} ${pick(['==', '!=', '<', '>', '<=', '>='])} ${jpExpr(depth - 1, at)}`;
    if (k === 1) return `exists (${jpPath(depth - 1, root)})`;
    if (k === 2) return `(${jpPred(depth - 1, at)} ${pick(['&&', '||'])} ${jpPred(depth - 1, at)})`;
    if (k === 3) return `!(${jpPred(depth - 1, at)})`;
    if (k === 4) return `(${jpPred(depth - 1, at)}) is unknown`;
    if (k === 5) return `${jpPath(depth - 1, root)} like_regex "^a.*\\"b" ${pick(['', 'flag "i"', 'flag "smxq"'])}`;
    return `${jpPath(depth - 1, root)} starts with ${pick(['"x"', '$v'])}`;
  };
  const jpPath = (depth: number, root: string): string => {
    let s = root;
    for (let n = int(0, 3); n > 0; n--) {
      const k = int(0, 8);
      if (k <= 2) s += `.${jpKey()}`;
      else if (k === 3) s += pick(['[*]', '.*', '.**', '.**{2}', '.**{1 to last}', '.**{last}']);
      else if (k === 4) s += `[${pick(['0', 'last', '1 to 3', '0, last - 1', '$.i to last'])}]`;
      else if (k === 5) s += pick(['.type()', '.size()', '.abs()', '.floor()', '.ceiling()', '.double()', '.keyvalue()', '.datetime()', '.datetime("yyyy")']);
      else if (depth > 0) s += ` ? (${jpPred(depth - 1, true)})`;
    }
    return s;
  };
  const jsonpath = (): string => q(`${pick(['', 'strict ', 'lax '])}${r() < 0.2 ? jpPred(2, false) : r() < 0.2 ? jpExpr(2, false) : jpPath(3, '$')}`);
  const values = [
    comp(),
    comp2(),
    maybe(`row(${maybe(String(int(-9, 9)))}, ${maybe(text())}, ${maybe(`array['ok', null, 'it''s "odd"']::mood[]`)})::rowt`),
    maybe(compArr()),
    maybe(`array[${comp2()}, ${comp2()}]::comp2[]`),
    maybe(`${comp()}::dcomp`),
    maybe(`${comp2()}::dcomp2`),
    maybe(String(int(-2147483648, 2147483647))),
    maybe(String(int(-999999999, 999999999))),
    maybe(text()),
    maybe(num()),
    maybe(pick([`'{${Array.from({ length: int(0, 5) }, () => (r() < 0.2 ? 'NULL' : int(-1e6, 1e6))).join(',')}}'`, "'[0:1]={7,8}'", "'{{1,2},{3,4}}'"])),
    maybe(q(pick(['sad', 'ok', 'happy', 'it\'s "odd"']))),
    maybe(i4range()),
    maybe(`array[${int(-5, 5)}, null, ${int(-5, 5)}]::dint[]`),
    maybe(`array[${text()}, null, ${text()}]::dtext[]`),
    maybe(pick(['true', 'false'])),
    maybe(`B'${int(0, 1)}${int(0, 1)}${int(0, 1)}'`),
    maybe(float()),
    maybe(i4multi()),
    maybe(pick([`nummultirange(numrange(${int(-9, 0)}.${int(0, 99)}, ${int(1, 9)}.5), numrange(20, null))`, "'{(,1.5)}'", "'{}'"])),
    maybe(dates()),
    maybe(pick([`tstzmultirange(tstzrange(${ts()}, null), tstzrange('2000-01-01 00:00+00', '2000-01-02 00:00:00.25+00'))`, "'{[-infinity,2000-01-01 00:00+00)}'"])),
    maybe(pick([`textmultirange(${trange()}, ${trange()})`, "'{}'", `'{["a b",c), [x,)}'`])),
    maybe(pick([`int8multirange(int8range(${int(-1e9, 0)}, 9223372036854775807))`, "'{[-9223372036854775808,0)}'"])),
    maybe(pick(["'{[2000-01-01 00:00,2000-01-01 00:00:00.5), [2001-01-01 00:00,)}'", "'{}'"])),
    maybe(`array[${i4multi()}, null]::int4multirange[]`),
    maybe(`array[${i4range()}, null, ${i4range()}]::int4range[]`),
    maybe(`array[${trange()}, ${trange()}]::textrange[]`),
    maybe(pick(["array['[1.5,2)'::numrange, 'empty', '(,)']", "'{}'::numrange[]"])),
    maybe(mac8()),
    maybe(tid()),
    maybe(q(Array.from({ length: int(0, 5) }, () => int(-32768, 32767)).join(' '))),
    maybe(q(Array.from({ length: int(0, 5) }, () => int(0, 4294967295)).join(' '))),
    maybe(point()),
    maybe(pick([`line(point(0, 0), point(${int(1, 9)}, ${float()}))`, "'{1,-1,0.5}'", "'{0,2.5,-1e-300}'"])),
    maybe(`lseg(${point()}, ${point()})`),
    maybe(`box(${point()}, ${point()})`),
    maybe(q(`${pick(['[', '('])}${pts(int(1, 5))}${pick([']', ')'])}`.replace(/^\[(.*)\)$/, '[$1]').replace(/^\((.*)\]$/, '($1)'))),
    maybe(q(`(${pts(int(1, 5))})`)),
    maybe(`circle(${point()}, ${pick(['0', '1.5', '1e-10', "'Infinity'"])})`),
    maybe(`array[box(${point()}, ${point()}), null, box '((1,2),(3,4))']`),
    maybe(`array[${point()}, null]`),
    maybe(tsv()),
    maybe(tsq()),
    maybe(snapshot()),
    maybe(snapshot()),
    maybe(q(String(pick([int(0, 4294967295), '18446744073709551615', '0'])))),
    maybe(xml()),
    maybe(q(pick(['integer', 'text', 'comp', 'int4range', 'numeric', '-', 'int4[]', 'mood']))),
    maybe(`array[${xml()}::xml, null]`),
    maybe(jsonpath()),
    maybe(`array[${jsonpath()}, null]::jsonpath[]`),
    maybe(`array[${mac8()}, null]::macaddr8[]`),
    maybe(`array[${tid()}, ${tid()}]::tid[]`),
    maybe(`array[${tsv()}, null, ''::tsvector]`),
    maybe(`array[${tsq()}, null]::tsquery[]`),
    maybe(`array[${q(`(${pts(int(1, 4))})`)}::polygon, null]`),
    maybe(`array[${q(`[${pts(int(1, 4))}]`)}::path, ${q(`(${pts(int(1, 4))})`)}::path]`),
    maybe(`array[circle(${point()}, 2), null]`),
    maybe(`array[line(point(0, 0), point(${int(1, 9)}, ${float()})), null]`),
    maybe(`array[lseg(${point()}, ${point()})]`),
    maybe(`array[${snapshot()}::pg_snapshot, null]`),
    maybe(`array[${q(String(int(0, 1e9)))}::xid8, null, '18446744073709551615']`),
    maybe(`array[${q(Array.from({ length: int(0, 4) }, () => int(-32768, 32767)).join(' '))}::int2vector, '']`),
    maybe(`array[${q(Array.from({ length: int(0, 4) }, () => int(0, 4294967295)).join(' '))}::oidvector]`),
    maybe(`array['integer', 'comp', null, '-']::regtype[]`),
  ];
  return `(${id}, ${values.join(', ')})`;
}
