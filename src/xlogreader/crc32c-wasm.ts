// CRC-32C in WebAssembly: the same slice-by-16 as crc32c.ts, about twice as fast in V8 because its table
// lookups need no bounds checks. The module (a few hundred bytes) is assembled here, so there is no binary blob
// to trust and no build step; every runtime with WebAssembly runs it, and crc32c.ts stays the fallback.

/**
 * The CRC-32C function over WebAssembly memory: `crc(start, end, seed)` for the bytes `memory[start..end)`.
 * The first TABLE_BYTES of memory are its tables; callers put data at or after that.
 */
export interface WasmCrc32c {
  memory: { readonly buffer: ArrayBuffer };
  crc: (start: number, end: number, seed: number) => number;
  /** The CRC a WAL record of `totalLength` bytes at `start` should carry: its body, then its header up to xl_crc. */
  record: (start: number, totalLength: number) => number;
}

/** The little of the WebAssembly API used here (the core compiles without DOM or runtime-specific types). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** Where data may start in a WasmCrc32c's memory: after the 16 tables of 256 entries. */
export const WASM_CRC_TABLE_BYTES = 16 * 256 * 4;

/**
 * Builds the module with `tables` (makeCrc32c's) in its memory; undefined where WebAssembly is missing or refuses.
 * With `shared` (a shared WebAssembly.Memory of at least TABLE_BYTES + dataBytes), the module works in that memory
 * instead of one of its own, so threads holding it see the same bytes.
 * Self-contained on purpose (the read-ahead worker runs its source text): it refers to nothing outside itself.
 */
export function makeWasmCrc32c(dataBytes: number, tables: Int32Array, shared?: { readonly buffer: ArrayBufferLike }): WasmCrc32c | undefined {
  const TABLE = 16 * 256 * 4;
  const uleb = (n: number): number[] => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n !== 0) b |= 0x80;
      out.push(b);
    } while (n !== 0);
    return out;
  };
  const sleb = (n: number): number[] => {
    const out: number[] = [];
    for (;;) {
      const b = n & 0x7f;
      n >>= 7;
      if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
        out.push(b);
        return out;
      }
      out.push(b | 0x80);
    }
  };
  // opcodes
  const BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, VOID = 0x40;
  const GET = 0x20, SET = 0x21, LOAD = 0x28, LOAD8U = 0x2d, CONST = 0x41;
  const LT_S = 0x48, GE_U = 0x4f, ADD = 0x6a, SUB = 0x6b, AND = 0x71, XOR = 0x73, SHL = 0x74, SHR_U = 0x76;
  // params: 0 start, 1 end, 2 seed; locals: 3 crc, 4..7 the four words of a 16-byte step
  const [P, E, SEED, C] = [0, 1, 2, 3];
  const code: number[] = [];
  const op = (...b: number[]): void => void code.push(...b);
  const load = (offset: number): void => op(LOAD, 2, ...uleb(offset));
  // Table t's entry for byte `shift` of word `local`, as a byte address: ((w >>> shift) & 255) * 4 + t * 1024.
  const lookup = (local: number, shift: number, t: number): void => {
    op(GET, local);
    if (shift === 0) op(CONST, 2, SHL);
    else if (shift === 24) op(CONST, 22, SHR_U);
    else op(CONST, ...sleb(shift - 2), SHR_U);
    op(CONST, ...sleb(1020), AND);
    load(t * 1024);
  };
  // Table t's entry for the byte at P + offset, as a byte address: byte * 4 + t * 1024.
  const byteLookup = (offset: number, t: number): void => {
    op(GET, P, LOAD8U, 0, ...uleb(offset), CONST, 2, SHL);
    load(t * 1024);
  };
  op(GET, SEED, CONST, ...sleb(-1), XOR, SET, C);
  op(BLOCK, VOID, LOOP, VOID);
  op(GET, E, GET, P, SUB, CONST, 16, LT_S, BR_IF, 1);
  // Bytes 4..15 first, each read on its own: they do not depend on the running CRC, so they are worked out while
  // the previous step's finishes; then the first word XOR the CRC, its four lookups as a tree. (One chain of 16
  // XORs after the CRC's lookups made each step wait on the last.)
  for (let i = 4; i < 16; i++) {
    byteLookup(i, 15 - i);
    if (i > 4) op(XOR);
  }
  op(GET, P);
  load(0);
  op(GET, C, XOR, SET, 4);
  lookup(4, 0, 15);
  lookup(4, 8, 14);
  op(XOR);
  lookup(4, 16, 13);
  lookup(4, 24, 12);
  op(XOR, XOR, XOR);
  op(SET, C, GET, P, CONST, 16, ADD, SET, P, BR, 0, END, END);
  // Then four bytes at a time (slice-by-4: tables 3..0), then single bytes.
  op(BLOCK, VOID, LOOP, VOID);
  op(GET, E, GET, P, SUB, CONST, 4, LT_S, BR_IF, 1);
  op(GET, P);
  load(0);
  op(GET, C, XOR, SET, 4);
  lookup(4, 0, 3);
  lookup(4, 8, 2);
  op(XOR);
  lookup(4, 16, 1);
  lookup(4, 24, 0);
  op(XOR, XOR);
  op(SET, C, GET, P, CONST, 4, ADD, SET, P, BR, 0, END, END);
  op(BLOCK, VOID, LOOP, VOID);
  op(GET, P, GET, E, GE_U, BR_IF, 1);
  op(GET, C, CONST, 8, SHR_U, GET, C, GET, P, LOAD8U, 0, 0, XOR, CONST, ...sleb(255), AND, CONST, 2, SHL);
  load(0);
  op(XOR, SET, C, GET, P, CONST, 1, ADD, SET, P, BR, 0, END, END);
  op(GET, C, CONST, ...sleb(-1), XOR, END);
  const body = [1, 5, 0x7f, ...code]; // one group of 5 i32 locals
  // record(start, totalLength) = crc(start, start + 20, crc(start + 24, start + totalLength, 0)): one call per record.
  const CALL = 0x10;
  const recordBody = [0, GET, 0, GET, 0, CONST, 20, ADD, GET, 0, CONST, 24, ADD, GET, 0, GET, 1, ADD, CONST, 0, CALL, 0, CALL, 0, END];
  const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
  const str = (s: string): number[] => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const pages = Math.ceil((TABLE + dataBytes) / 65536);
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [2, 0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]),
    // A shared memory is imported (limits flag 3: shared, with a maximum); otherwise the module has its own.
    ...(shared === undefined ? [] : section(2, [1, ...str('env'), ...str('mem'), 0x02, 0x03, ...uleb(pages), ...uleb(pages)])),
    ...section(3, [2, 0, 1]),
    ...(shared === undefined ? section(5, [1, 0, ...uleb(pages)]) : []),
    ...section(7, [3, ...str('crc'), 0x00, 0, ...str('record'), 0x00, 1, ...str('mem'), 0x02, 0]),
    ...section(10, [2, ...uleb(body.length), ...body, ...uleb(recordBody.length), ...recordBody]),
  ]);
  const api = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (api === undefined) return undefined;
  try {
    const instance = new api.Instance(new api.Module(bytes), shared === undefined ? {} : { env: { mem: shared } });
    const memory = instance.exports.mem as WasmCrc32c['memory'];
    const crc = instance.exports.crc as WasmCrc32c['crc'];
    const record = instance.exports.record as WasmCrc32c['record'];
    new Int32Array(memory.buffer, 0, 16 * 256).set(tables);
    return { memory, crc, record };
  } catch {
    return undefined;
  }
}
