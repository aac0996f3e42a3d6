// `pgwal slot create` and `pgwal decode`: a slot's catalog from a live server, then test_decoding's output from
// WAL files alone.
import path from 'node:path';
import { WalError } from '../errors.js';
import { formatLsn, parseLsn } from '../lsn.js';
import { openWal } from '../node/wal.js';
import { createSlot, readSlotStateFile, writeSlotStateFile } from '../node/slot.js';
import { TestDecodingDecoder } from '../reorderbuffer/decoder.js';
import { profileForMajor } from '../xlogreader/profile.js';
import { getopt } from './getopt.js';
import type { DumpIo } from './dump.js';

export const SLOT_HELP = `pgwal slot create makes a logical slot on a live server and writes a state file with the catalog as of the
slot's consistent point, so that pgwal decode can decode the WAL with no server.

Usage:
  pgwal slot create --dsn URL --slot NAME --state FILE [--plugin test_decoding] [--temporary]
`;

export const DECODE_HELP = `pgwal decode prints, from WAL files and a slot state file, what the server's test_decoding returns from
pg_logical_slot_peek_changes for that slot (the data column, one row per line).

Usage:
  pgwal decode --state FILE [--path DIR]... [-o NAME=VALUE]... [--end LSN] [--with-lsn]

Options:
  --state FILE        a state file written by pgwal slot create
  -p, --path DIR      folders holding the WAL (default: ./pg_wal); repeatable
  -o NAME=VALUE       test_decoding options: include-xids (default 1), skip-empty-xacts (default 0)
  --end LSN           stop at this LSN (upto_lsn)
  --with-lsn          print "lsn<TAB>xid<TAB>data" as the SQL function's three columns
  --advance           consume what was printed, as pg_logical_slot_get_changes: confirmed_flush moves to the
                      last commit printed and restart_lsn to where no open transaction is lost; the state file
                      is rewritten crash-safely (confirmed_flush never moves back)

Not yet: DDL inside the range (the catalog is the one of the slot's creation), spilling large
transactions, two-phase and streaming output, JSON output.
`;

const bool = (v: string): boolean => ['1', 'on', 'true', 'yes', 't', 'y'].includes(v.toLowerCase());

export async function slotCommand(argv: string[], io: DumpIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'create') {
    io.err(sub === undefined || sub === '--help' ? SLOT_HELP : `pgwal slot: unknown subcommand "${sub}"\n\n${SLOT_HELP}`);
    return sub === '--help' ? 0 : 1;
  }
  try {
    const p = getopt(rest, [{ long: 'dsn', arg: 'required' }, { long: 'slot', arg: 'required' }, { long: 'state', arg: 'required' }, { long: 'plugin', arg: 'required' }, { long: 'temporary', arg: 'none' }], (m) => {
      throw new WalError('invalid-argument', m);
    });
    const get = (n: string): string | undefined => p.options.find((o) => o.name === n)?.value;
    const dsn = get('dsn');
    const slot = get('slot');
    const state = get('state');
    if (dsn === undefined || slot === undefined || state === undefined) throw new WalError('invalid-argument', '--dsn, --slot and --state are required');
    const s = await createSlot({ connection: dsn, slotName: slot, plugin: get('plugin'), temporary: p.options.some((o) => o.name === 'temporary') });
    writeSlotStateFile(path.resolve(io.cwd, state), s);
    io.out(`slot "${s.slotName}" created: restart_lsn ${s.restartLsn}, confirmed_flush_lsn ${s.confirmedFlushLsn}, catalog_xmin ${s.catalogXmin}\n`);
    return 0;
  } catch (e) {
    io.err(`pgwal slot create: error: ${(e as Error).message}\n`);
    return 1;
  }
}

export async function decodeCommand(argv: string[], io: DumpIo): Promise<number> {
  try {
    const p = getopt(
      argv,
      [{ long: 'state', arg: 'required' }, { short: 'p', long: 'path', arg: 'required' }, { short: 'o', long: 'option', arg: 'required' }, { long: 'end', arg: 'required' }, { long: 'with-lsn', arg: 'none' }, { long: 'advance', arg: 'none' }, { short: '?', long: 'help', arg: 'none' }],
      (m) => {
        throw new WalError('invalid-argument', m);
      },
    );
    if (p.options.some((o) => o.name === 'help')) {
      io.out(DECODE_HELP);
      return 0;
    }
    const stateFile = p.options.find((o) => o.name === 'state')?.value;
    if (stateFile === undefined) throw new WalError('invalid-argument', '--state is required');
    const state = readSlotStateFile(path.resolve(io.cwd, stateFile));
    const opts = new Map<string, string>();
    for (const o of p.options.filter((x) => x.name === 'option')) {
      const [k, ...v] = o.value!.split('=');
      if (!['include-xids', 'skip-empty-xacts'].includes(k!)) throw new WalError('invalid-argument', `option "${k}" = "${v.join('=')}" is unknown`);
      opts.set(k!, v.length === 0 ? '1' : v.join('='));
    }
    const dirs = p.options.filter((o) => o.name === 'path').map((o) => path.resolve(io.cwd, o.value!));
    const wal = openWal({ path: dirs.length > 0 ? dirs : [path.resolve(io.cwd, 'pg_wal')], timeline: 'latest' });
    const endText = p.options.find((o) => o.name === 'end')?.value;
    const profile = profileForMajor(state.major);
    if (profile === undefined) throw new WalError('invalid-argument', `unsupported major ${state.major} in the state file`);
    const decoder = new TestDecodingDecoder(
      state.catalog,
      profile.major,
      { includeXids: bool(opts.get('include-xids') ?? '1'), skipEmptyXacts: bool(opts.get('skip-empty-xacts') ?? '0') },
      parseLsn(state.confirmedFlushLsn),
    );
    const withLsn = p.options.some((o) => o.name === 'with-lsn');
    let printed = 0;
    const stream = wal.records({ start: parseLsn(state.restartLsn), end: endText === undefined ? undefined : parseLsn(endText), startTimeline: state.timeline });
    let readTo = parseLsn(state.restartLsn);
    for await (const rec of stream) {
      decoder.process(rec);
      readTo = rec.endLsn;
      for (; printed < decoder.output.length; printed++) {
        const o = decoder.output[printed]!;
        io.out(withLsn ? `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}\n` : `${o.data}\n`);
      }
    }
    if (p.options.some((o) => o.name === 'advance') && decoder.lastCommitEnd > parseLsn(state.confirmedFlushLsn)) {
      const restart = Math.max(parseLsn(state.restartLsn), Math.min(decoder.restartPoint(readTo), decoder.lastCommitEnd));
      writeSlotStateFile(path.resolve(io.cwd, stateFile), { ...state, confirmedFlushLsn: formatLsn(decoder.lastCommitEnd), restartLsn: formatLsn(restart) });
    }
    return 0;
  } catch (e) {
    if (e instanceof WalError) {
      io.err(`pgwal decode: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
