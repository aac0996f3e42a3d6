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
  /**
   * The read-ahead's walk over a window's records (makeWindowCheck in src/node/readahead.ts): from window offset
   * `off` of the window at `base`, on while each record passes every check; returns where it stopped (see below).
   */
  walk: (base: number, off: number, len: number, open: number, lsnLo: number, lsnHi: number, scratch: number, magic: number, tli: number) => number;
  /** Where this thread's scratch area (WALK_*) lies in memory: WASM_SCRATCH_BYTES from there are walk's. */
  scratch: number;
}

/** Bytes of one thread's scratch area for walk: its state, the window's CRC bits, the statistics and their keys, a record's headers. */
export const WASM_SCRATCH_BYTES = 2 * 65536;
/**
 * Offsets in the scratch area (makeWindowCheck, being self-contained, spells them out again): run count (i32), last
 * LSN (i64), the run's last record, the offset after it, its end (i32), keys in use (i32).
 */
export const WALK_COUNT = 0;
export const WALK_LAST_LSN = 8;
export const WALK_RUN_LAST = 16;
export const WALK_RUN_NEXT = 20;
export const WALK_RUN_END = 24;
export const WALK_USED_N = 28;
/** The window's CRC bits (one per 8-byte offset of a 2 MB window), the statistics table, the keys in use. */
export const WALK_BITS = 64;
export const WALK_TABLE = WALK_BITS + 32768;
export const WALK_USED = WALK_TABLE + 256 * 16 * 3 * 4;

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
 * `scratch`: where walk's scratch area lies (the caller keeps WASM_SCRATCH_BYTES there within the memory, apart from data).
 */
export function makeWasmCrc32c(dataBytes: number, tables: Int32Array, shared?: { readonly buffer: ArrayBufferLike }, scratch = 0): WasmCrc32c | undefined {
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

  // decodeCheck(a, total, avail): DecodeXLogRecord's checks of the record at `a` of `total` bytes, `avail` of them
  // at hand (as makeWindowCheck's decodeCheck): its image bytes, -1 when the server would refuse it, -2 when its
  // headers run past what is at hand.
  const I64_EXTEND_U = 0xad, I64_ADD = 0x7c, I64_EQ = 0x51, I64_GT_S = 0x55, I64_LOAD32U = 0x35, I64_LOAD = 0x29, I64_NE = 0x52;
  const I64_SHL = 0x86, I64_OR = 0x84, I64_CONST = 0x42, MUL = 0x6c;
  const IF = 0x04, ELSE = 0x05, RETURN = 0x0f, TEE = 0x22, EQZ = 0x45, EQ = 0x46, NE = 0x47, LT_U = 0x49, GT_U = 0x4b, LE_S = 0x4c, GT_S = 0x4a, OR = 0x72;
  const LOAD16U = 0x2f, I32_STORE = 0x36, I64_STORE = 0x37;
  const d: number[] = [];
  const e = (...b: number[]): void => void d.push(...b);
  // params; locals (i32, then the i64 datatotal)
  const DA = 0, DTOT = 1, DAVAIL = 2, PTR = 3, REM = 4, HAVEREL = 5, MAXID = 6, FPI = 7, ID = 8, FLAGS = 9, DLEN = 10, ILEN = 11, HOLEOFF = 12, BIMG = 13, HOLELEN = 14, COMPR = 15, HASHOLE = 16, LIM = 17, DTOTAL = 18;
  const ret = (v: number): void => e(CONST, ...sleb(v), RETURN);
  // if (remaining < n) return -1; with `read`, also if (ptr + n > lim) return -2
  const need = (n: number, read: boolean): void => {
    e(GET, REM, CONST, ...sleb(n), LT_U, IF, VOID);
    ret(-1);
    e(END);
    if (read) {
      e(GET, PTR, CONST, ...sleb(n), ADD, GET, LIM, GT_U, IF, VOID);
      ret(-2);
      e(END);
    }
  };
  const failIf = (): void => {
    e(IF, VOID);
    ret(-1);
    e(END);
  };
  // ptr += n; remaining -= n
  const skip = (n: number): void => e(GET, PTR, CONST, ...sleb(n), ADD, SET, PTR, GET, REM, CONST, ...sleb(n), SUB, SET, REM);
  e(GET, DA, CONST, 24, ADD, SET, PTR, GET, DTOT, CONST, 24, SUB, SET, REM, CONST, ...sleb(-1), SET, MAXID, GET, DA, GET, DAVAIL, ADD, SET, LIM);
  e(BLOCK, VOID, LOOP, VOID);
  // while (remaining > datatotal)
  e(GET, REM, I64_EXTEND_U, GET, DTOTAL, I64_GT_S, EQZ, BR_IF, 1);
  need(1, true);
  e(GET, PTR, LOAD8U, 0, 0, SET, ID);
  skip(1);
  e(GET, ID, CONST, ...sleb(255), EQ, IF, VOID); // XLR_BLOCK_ID_DATA_SHORT
  need(1, true);
  e(GET, DTOTAL, GET, PTR, LOAD8U, 0, 0, I64_EXTEND_U, I64_ADD, SET, DTOTAL);
  skip(1);
  e(BR, 2, END);
  e(GET, ID, CONST, ...sleb(254), EQ, IF, VOID); // XLR_BLOCK_ID_DATA_LONG
  need(4, true);
  e(GET, DTOTAL, GET, PTR, I64_LOAD32U, 0, 0, I64_ADD, SET, DTOTAL);
  skip(4);
  e(BR, 2, END);
  e(GET, ID, CONST, ...sleb(253), EQ, IF, VOID); // XLR_BLOCK_ID_ORIGIN
  need(2, false);
  skip(2);
  e(BR, 1, END);
  e(GET, ID, CONST, ...sleb(252), EQ, IF, VOID); // XLR_BLOCK_ID_TOPLEVEL_XID
  need(4, false);
  skip(4);
  e(BR, 1, END);
  e(GET, ID, CONST, 32, GT_U);
  failIf();
  // a block reference: ids in increasing order
  e(GET, ID, GET, MAXID, LE_S);
  failIf();
  e(GET, ID, SET, MAXID);
  need(3, true);
  e(GET, PTR, LOAD8U, 0, 0, SET, FLAGS, GET, PTR, LOAD16U, 0, 1, SET, DLEN);
  skip(3);
  // BKPBLOCK_HAS_DATA with no data, or data without it
  e(GET, FLAGS, CONST, 0x20, AND, EQZ, GET, DLEN, EQZ, NE);
  failIf();
  e(GET, DTOTAL, GET, DLEN, I64_EXTEND_U, I64_ADD, SET, DTOTAL);
  e(GET, FLAGS, CONST, 0x10, AND, IF, VOID); // BKPBLOCK_HAS_IMAGE
  need(5, true);
  e(GET, PTR, LOAD16U, 0, 0, SET, ILEN, GET, PTR, LOAD16U, 0, 2, SET, HOLEOFF, GET, PTR, LOAD8U, 0, 4, SET, BIMG, CONST, 0, SET, HOLELEN);
  skip(5);
  e(GET, BIMG, CONST, 0x1c, AND, SET, COMPR, GET, BIMG, CONST, 1, AND, SET, HASHOLE);
  e(GET, COMPR, IF, VOID, GET, HASHOLE, IF, VOID);
  need(2, true);
  e(GET, PTR, LOAD16U, 0, 0, SET, HOLELEN);
  skip(2);
  e(END, ELSE, CONST, ...sleb(8192), GET, ILEN, SUB, SET, HOLELEN, END);
  e(GET, DTOTAL, GET, ILEN, I64_EXTEND_U, I64_ADD, SET, DTOTAL, GET, FPI, GET, ILEN, ADD, SET, FPI);
  // the image's hole and compression as the server checks them
  e(GET, HASHOLE, IF, VOID, GET, HOLEOFF, EQZ, GET, HOLELEN, EQZ, OR, GET, ILEN, CONST, ...sleb(8192), EQ, OR);
  failIf();
  e(ELSE, GET, HOLEOFF, GET, HOLELEN, OR);
  failIf();
  e(GET, COMPR, EQZ, GET, ILEN, CONST, ...sleb(8192), NE, AND);
  failIf();
  e(END);
  e(GET, COMPR, EQZ, EQZ, GET, ILEN, CONST, ...sleb(8192), EQ, AND);
  failIf();
  e(END); // HAS_IMAGE
  e(GET, FLAGS, CONST, ...sleb(0x80), AND, EQZ, IF, VOID); // not BKPBLOCK_SAME_REL: a RelFileLocator follows
  need(12, false);
  skip(12);
  e(CONST, 1, SET, HAVEREL);
  e(ELSE, GET, HAVEREL, EQZ);
  failIf();
  e(END);
  need(4, false);
  skip(4);
  e(BR, 0, END, END); // loop
  e(GET, REM, I64_EXTEND_U, GET, DTOTAL, I64_EQ, IF, 0x7f, GET, FPI, ELSE, CONST, ...sleb(-1), END, END);
  const decodeBody = [2, LIM - PTR + 1, 0x7f, 1, 0x7e, ...d];

  // walk(base, off, len, open, lsnLo, lsnHi, scratch, magic, tli): the records from window offset `off` of the
  // window at `base` (`len` bytes) whose CRC matches, that are no XLOG_SWITCH, and, with `open`, that continue the
  // run (its first record is the caller's), pass DecodeXLogRecord's checks and chain their prev-links: each marked
  // in the scratch area's bits, counted in the run and its statistics there. A record spanning pages is taken when
  // its continuation pages' headers pass every check (pages of `magic` and `tli`, magic -1: none known yet) and its
  // headers lie in its first piece, or in a first piece of at most HEAD bytes and HEAD bytes of the next; a record
  // starting a page when that page's header passes them too. Returns the offset of the first record it left to the
  // caller (one failing a check, or any of the above not met): the caller makes its checks again and goes on as it
  // would have.
  const w: number[] = [];
  const f = (...b: number[]): void => void w.push(...b);
  const MEMORY_COPY = [0xfc, 10, 0, 0];
  // the scratch area's copy of a record's headers (after the keys in use), HEAD bytes from each of two pieces
  const WALK_HEAD = 32768 + 64 + 256 * 16 * 3 * 4 + 256 * 16 * 4;
  const HEAD = 512;
  const BASE = 0, OFF = 1, LEN = 2, OPEN = 3, LSNLO = 4, LSNHI = 5, SCR = 6, MAGIC = 7, TLI = 8;
  const A = 9, TOT = 10, NEXT = 11, INFO = 12, RMID = 13, WFPI = 14, K = 15, COUNT = 16, T = 17, FIRST = 18, GOT = 19, PAGE = 20, PA = 21, PIECE = 22, CRCV = 23, WEND = 24;
  const SKIP = 25, LSN = 26, LAST = 27;
  f(GET, LSNHI, I64_EXTEND_U, I64_CONST, 32, I64_SHL, GET, LSNLO, I64_EXTEND_U, I64_OR, SET, LSN);
  f(GET, SCR, LOAD, 2, 0, SET, COUNT, GET, SCR, I64_LOAD, 3, 8, SET, LAST);
  f(BLOCK, VOID, LOOP, VOID);
  f(GET, OFF, CONST, 24, ADD, GET, LEN, GT_S, BR_IF, 1);
  // a record starting a page (the last one ended at its end): the page's header first, stricter than the reader's
  // (a short one, no flag but XLP_BKP_REMOVABLE, this magic and timeline, its address), else the caller's
  f(GET, OFF, CONST, ...sleb(8191), AND, TEE, T, EQZ, IF, VOID);
  f(GET, MAGIC, CONST, 0, LT_S, BR_IF, 2, GET, BASE, GET, OFF, ADD, SET, PA);
  f(GET, PA, LOAD16U, 1, 0, GET, MAGIC, NE, BR_IF, 2);
  f(GET, PA, LOAD16U, 1, 2, CONST, ...sleb(0xfffb), AND, BR_IF, 2);
  f(GET, PA, LOAD, 2, 4, GET, TLI, NE, BR_IF, 2);
  f(GET, PA, I64_LOAD, 3, 8, GET, LSN, GET, OFF, I64_EXTEND_U, I64_ADD, I64_NE, BR_IF, 2);
  f(GET, OFF, CONST, 24, ADD, SET, OFF, CONST, 24, SET, T);
  f(GET, OFF, CONST, 24, ADD, GET, LEN, GT_S, BR_IF, 2);
  f(END);
  f(GET, BASE, GET, OFF, ADD, TEE, A, LOAD, 2, 0, TEE, TOT, CONST, 24, LT_U, BR_IF, 1);
  // the record's first piece: all of it, or up to the page's end
  f(CONST, ...sleb(8192), GET, T, SUB, TEE, FIRST, GET, TOT, GT_U, IF, VOID, GET, TOT, SET, FIRST, END);
  f(GET, TOT, GET, FIRST, EQ, IF, VOID);
  // within its page
  f(GET, A, GET, TOT, CALL, 1, GET, A, LOAD, 2, 20, NE, BR_IF, 2);
  f(GET, OFF, GET, TOT, CONST, 7, ADD, CONST, ...sleb(-8), AND, ADD, SET, NEXT, GET, OFF, GET, TOT, ADD, SET, WEND);
  f(ELSE);
  // spanning pages: its header in the first piece, the continuation pages' headers as the reader checks them
  // (a header cut by the page's end: its SKIP bytes on the next page are not data)
  f(GET, MAGIC, CONST, 0, LT_S, BR_IF, 2, CONST, 0, SET, SKIP, CONST, 0, SET, CRCV);
  f(GET, FIRST, CONST, 24, LT_U, IF, VOID, CONST, 24, GET, FIRST, SUB, SET, SKIP, ELSE);
  f(GET, A, CONST, 24, ADD, GET, A, GET, FIRST, ADD, CONST, 0, CALL, 0, SET, CRCV, END, GET, FIRST, SET, GOT);
  f(GET, OFF, GET, T, SUB, SET, PAGE);
  f(LOOP, VOID);
  f(GET, PAGE, CONST, ...sleb(8192), ADD, TEE, PAGE, CONST, 24, ADD, GET, LEN, GT_S, BR_IF, 3);
  f(GET, BASE, GET, PAGE, ADD, SET, PA);
  // xlp_magic, xlp_info (XLP_FIRST_IS_CONTRECORD, maybe XLP_BKP_REMOVABLE, nothing else), xlp_tli, xlp_pageaddr, xlp_rem_len
  f(GET, PA, LOAD16U, 1, 0, GET, MAGIC, NE, BR_IF, 3);
  f(GET, PA, LOAD16U, 1, 2, CONST, ...sleb(0xfffb), AND, CONST, 1, NE, BR_IF, 3);
  f(GET, PA, LOAD, 2, 4, GET, TLI, NE, BR_IF, 3);
  f(GET, PA, I64_LOAD, 3, 8, GET, LSN, GET, PAGE, I64_EXTEND_U, I64_ADD, I64_NE, BR_IF, 3);
  f(GET, PA, LOAD, 2, 16, GET, TOT, GET, GOT, SUB, NE, BR_IF, 3);
  // this page's piece: the rest of the record, or all of the page after its header
  f(GET, TOT, GET, GOT, SUB, TEE, PIECE, CONST, ...sleb(8192 - 24), GT_U, IF, VOID, CONST, ...sleb(8192 - 24), SET, PIECE, END);
  f(GET, PAGE, CONST, 24, ADD, GET, PIECE, ADD, GET, LEN, GT_S, BR_IF, 3);
  f(GET, PA, CONST, 24, ADD, GET, SKIP, ADD, GET, PA, CONST, 24, ADD, GET, PIECE, ADD, GET, CRCV, CALL, 0, SET, CRCV, CONST, 0, SET, SKIP);
  f(GET, GOT, GET, PIECE, ADD, TEE, GOT, GET, TOT, NE, BR_IF, 0, END);
  f(GET, PAGE, CONST, 24, ADD, TEE, T, GET, PIECE, ADD, SET, WEND, GET, T, GET, PIECE, CONST, 7, ADD, CONST, ...sleb(-8), AND, ADD, SET, NEXT);
  // a cut header: the record's headers read from a copy of its first piece and up to HEAD bytes of the next
  f(GET, FIRST, CONST, 24, LT_U, IF, VOID);
  f(GET, SCR, CONST, ...sleb(WALK_HEAD), ADD, TEE, T, GET, A, GET, FIRST, ...MEMORY_COPY);
  f(GET, TOT, GET, FIRST, SUB, TEE, PIECE, CONST, ...sleb(HEAD), GT_U, IF, VOID, CONST, ...sleb(HEAD), SET, PIECE, END);
  f(GET, T, GET, FIRST, ADD, GET, A, GET, FIRST, ADD, CONST, 24, ADD, GET, PIECE, ...MEMORY_COPY);
  f(GET, T, SET, A, GET, FIRST, GET, PIECE, ADD, SET, FIRST);
  f(END);
  f(GET, A, GET, A, CONST, 20, ADD, GET, CRCV, CALL, 0, GET, A, LOAD, 2, 20, NE, BR_IF, 2);
  f(END);
  f(GET, A, LOAD8U, 0, 16, SET, INFO, GET, A, LOAD8U, 0, 17, SET, RMID);
  // XLOG_SWITCH
  f(GET, RMID, EQZ, GET, INFO, CONST, ...sleb(0xf0), AND, CONST, ...sleb(0x40), EQ, AND, BR_IF, 1);
  f(GET, OPEN, IF, VOID);
  f(GET, COUNT, EQZ, BR_IF, 2);
  // a known resource manager, the prev-link chained, DecodeXLogRecord's checks
  f(GET, RMID, CONST, 21, GT_U, GET, RMID, CONST, ...sleb(128), LT_U, AND, BR_IF, 2);
  f(GET, A, I64_LOAD, 3, 8, GET, LAST, I64_NE, BR_IF, 2);
  f(GET, A, GET, TOT, GET, FIRST, CALL, 2, TEE, WFPI, CONST, ...sleb(-2), EQ, IF, VOID);
  // headers past a spanning record's first piece (of at most HEAD bytes): checked in a copy of that piece and up to
  // HEAD bytes of the next (past its short header) in the scratch area (never for a record within its page)
  f(GET, FIRST, CONST, ...sleb(HEAD), GT_U, GET, FIRST, GET, TOT, EQ, OR, BR_IF, 3);
  f(GET, SCR, CONST, ...sleb(WALK_HEAD), ADD, TEE, T, GET, A, GET, FIRST, ...MEMORY_COPY);
  f(GET, TOT, GET, FIRST, SUB, TEE, PIECE, CONST, ...sleb(HEAD), GT_U, IF, VOID, CONST, ...sleb(HEAD), SET, PIECE, END);
  f(GET, T, GET, FIRST, ADD, GET, A, GET, FIRST, ADD, CONST, 24, ADD, GET, PIECE, ...MEMORY_COPY);
  f(GET, T, GET, TOT, GET, FIRST, GET, PIECE, ADD, CALL, 2, SET, WFPI);
  f(END);
  f(GET, WFPI, CONST, 0, LT_S, BR_IF, 2);
  f(GET, COUNT, CONST, 1, ADD, SET, COUNT, GET, LSN, GET, OFF, I64_EXTEND_U, I64_ADD, SET, LAST);
  // the statistics: table entry k = rmid << 4 | info >> 4 at scratch + WALK_TABLE + 12k; a new key is listed
  f(GET, SCR, CONST, ...sleb(32768 + 64), ADD, GET, RMID, CONST, 4, SHL, GET, INFO, CONST, 4, SHR_U, OR, TEE, K, CONST, 12, MUL, ADD, SET, T);
  f(GET, T, LOAD, 2, 0, EQZ, IF, VOID);
  f(GET, SCR, GET, SCR, LOAD, 2, 28, TEE, PA, CONST, 2, SHL, ADD, GET, K, I32_STORE, 2, ...uleb(32768 + 64 + 256 * 16 * 3 * 4));
  f(GET, SCR, GET, PA, CONST, 1, ADD, I32_STORE, 2, 28);
  f(END);
  f(GET, T, GET, T, LOAD, 2, 0, CONST, 1, ADD, I32_STORE, 2, 0);
  f(GET, T, GET, T, LOAD, 2, 4, GET, TOT, GET, WFPI, SUB, ADD, I32_STORE, 2, 4);
  f(GET, T, GET, T, LOAD, 2, 8, GET, WFPI, ADD, I32_STORE, 2, 8);
  f(GET, SCR, GET, OFF, I32_STORE, 2, 16, GET, SCR, GET, NEXT, I32_STORE, 2, 20, GET, SCR, GET, WEND, I32_STORE, 2, 24);
  f(END);
  // its bit: word off >>> 8, bit (off >>> 3) & 31
  f(GET, SCR, GET, OFF, CONST, 8, SHR_U, CONST, 2, SHL, ADD, TEE, T, GET, T, LOAD, 2, 64, CONST, 1, GET, OFF, CONST, 3, SHR_U, SHL, OR, I32_STORE, 2, 64);
  f(GET, NEXT, SET, OFF, BR, 0, END, END);
  f(GET, SCR, GET, COUNT, I32_STORE, 2, 0, GET, SCR, GET, LAST, I64_STORE, 3, 8, GET, OFF, END);
  const walkBody = [2, SKIP - A + 1, 0x7f, 2, 0x7e, ...w];

  const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
  const str = (s: string): number[] => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const pages = Math.ceil((TABLE + dataBytes) / 65536);
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [3, 0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7f, 0x60, 9, ...Array<number>(9).fill(0x7f), 1, 0x7f]),
    // A shared memory is imported (limits flag 3: shared, with a maximum); otherwise the module has its own.
    ...(shared === undefined ? [] : section(2, [1, ...str('env'), ...str('mem'), 0x02, 0x03, ...uleb(pages), ...uleb(pages)])),
    ...section(3, [4, 0, 1, 0, 2]),
    ...(shared === undefined ? section(5, [1, 0, ...uleb(pages)]) : []),
    ...section(7, [4, ...str('crc'), 0x00, 0, ...str('record'), 0x00, 1, ...str('walk'), 0x00, 3, ...str('mem'), 0x02, 0]),
    ...section(10, [4, ...uleb(body.length), ...body, ...uleb(recordBody.length), ...recordBody, ...uleb(decodeBody.length), ...decodeBody, ...uleb(walkBody.length), ...walkBody]),
  ]);
  const api = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (api === undefined) return undefined;
  try {
    const instance = new api.Instance(new api.Module(bytes), shared === undefined ? {} : { env: { mem: shared } });
    const memory = instance.exports.mem as WasmCrc32c['memory'];
    const crc = instance.exports.crc as WasmCrc32c['crc'];
    const record = instance.exports.record as WasmCrc32c['record'];
    const walk = instance.exports.walk as WasmCrc32c['walk'];
    new Int32Array(memory.buffer, 0, 16 * 256).set(tables);
    return { memory, crc, record, walk, scratch };
  } catch {
    return undefined;
  }
}
