// What `pgwal decode` and `pgwal slot orphans` share: the output plugin and its -o options, memory sizes, and
// where the WAL is read from (folders or a restore_command, and the old timelines' own WAL).
import path from 'node:path';
import { WalError } from '../errors.js';
import { openWal, type WalFiles } from '../node/wal.js';
import { ArchiveWal } from '../node/restore.js';
import { folderTimelineReader, type TimelineReader } from '../node/slot-decode.js';
import type { OutputPlugin } from '../reorderbuffer/plugin.js';
import { TestDecodingPlugin } from '../reorderbuffer/testdecoding.js';
import { parseWal2JsonOptions, Wal2JsonPlugin } from '../reorderbuffer/wal2json.js';
import { parsePgOutputOptions, PgOutputPlugin } from '../reorderbuffer/pgoutput.js';
import type { DecoderCatalog } from '../reorderbuffer/catalog.js';
import type { TimelineHistory } from '../timeline/history.js';
import type { Parsed } from './getopt.js';
import type { DumpIo } from './dump.js';

/** The command-line options `pgwal decode` and `pgwal slot orphans` both take: slot, WAL sources, output. */
export const SHARED_DECODE_OPTIONS = [
  { long: 'state', arg: 'required' },
  { short: 'p', long: 'path', arg: 'required' },
  { long: 'restore-command', arg: 'required' },
  { long: 'wal-segsize', arg: 'required' },
  { long: 'plugin', arg: 'required' },
  { short: 'o', long: 'option', arg: 'required' },
  { long: 'with-lsn', arg: 'none' },
  { long: 'memory-limit', arg: 'required' },
  { short: '?', long: 'help', arg: 'none' },
] as const;

const TEST_DECODING_OPTIONS = ['include-xids', 'include-timestamp', 'skip-empty-xacts', 'only-local', 'include-rewrites', 'stream-changes'];

/** A size as logical_decoding_work_mem takes it: a number with an optional unit (B, kB, MB, GB; default kB). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+)\s*(B|kB|MB|GB|TB)?\s*$/.exec(text);
  if (m === null) throw new WalError('invalid-argument', `invalid memory limit "${text}": expected a number with a unit B, kB, MB, GB or TB`);
  const unit = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[(m[2] ?? 'kB') as 'B'];
  return Number(m[1]) * unit;
}

const bool = (v: string): boolean => ['1', 'on', 'true', 'yes', 't', 'y'].includes(v.toLowerCase());

/**
 * The plugin name and -o options, checked: test_decoding's known options, or wal2json's and pgoutput's (checked by
 * their parsers).
 */
export function pluginChoice(options: Parsed['options'], statePlugin: string): { name: 'test_decoding' | 'json' | 'pgoutput'; given: [string, string | null][]; flag: (k: string, d: string) => boolean } {
  const pluginName = options.find((o) => o.name === 'plugin')?.value ?? (statePlugin === 'wal2json' ? 'json' : statePlugin === 'pgoutput' ? 'pgoutput' : 'test_decoding');
  if (pluginName !== 'test_decoding' && pluginName !== 'json' && pluginName !== 'pgoutput') throw new WalError('invalid-argument', `unknown plugin "${pluginName}": expected test_decoding, json or pgoutput`);
  const given = options.filter((x) => x.name === 'option').map((o): [string, string | null] => {
    const eq = o.value!.indexOf('=');
    return eq < 0 ? [o.value!, null] : [o.value!.slice(0, eq), o.value!.slice(eq + 1)];
  });
  const opts = new Map<string, string>();
  if (pluginName === 'test_decoding') {
    for (const [k, v] of given) {
      if (!TEST_DECODING_OPTIONS.includes(k)) throw new WalError('invalid-argument', `option "${k}" = "${v ?? ''}" is unknown`);
      opts.set(k, v ?? '1');
    }
  }
  return { name: pluginName, given, flag: (k, d) => bool(opts.get(k) ?? d) };
}

/**
 * A new output plugin as chosen (each decoding run gets its own: plugins keep per-transaction state); pgoutput
 * takes its publications from the slot's catalog and checks its options as the slot's major does.
 */
export function makePlugin(choice: ReturnType<typeof pluginChoice>, slot?: { major: number; catalog: DecoderCatalog }): OutputPlugin {
  const { flag } = choice;
  if (choice.name === 'pgoutput') {
    if (slot === undefined) throw new WalError('invalid-argument', 'pgoutput needs the slot state');
    return new PgOutputPlugin(parsePgOutputOptions(choice.given, slot.major), slot.major, slot.catalog.publications, slot.catalog.partitions, new Map(slot.catalog.replicationOrigins));
  }
  return choice.name === 'json'
    ? new Wal2JsonPlugin(parseWal2JsonOptions([['format-version', '2'], ...choice.given]))
    : new TestDecodingPlugin({ includeXids: flag('include-xids', '1'), includeTimestamp: flag('include-timestamp', '0'), skipEmptyXacts: flag('skip-empty-xacts', '0'), onlyLocal: flag('only-local', '0'), streamChanges: flag('stream-changes', '0') });
}

/** Where decode reads WAL: folders, or a restore_command with the folders after it; and the old timelines' own WAL. */
export interface WalSources {
  archive: ArchiveWal | undefined;
  files: WalFiles | undefined;
  history: TimelineHistory | undefined;
  oldTimeline: TimelineReader;
  segmentSize: number;
}

/** `recycle`: the caller keeps no record past the next one (openWal's recycleWindows). */
export async function openWalSources(options: Parsed['options'], io: DumpIo, recycle = false): Promise<WalSources> {
  const dirs = options.filter((o) => o.name === 'path').map((o) => path.resolve(io.cwd, o.value!));
  const restoreCommand = options.find((o) => o.name === 'restore-command')?.value;
  const segText = options.find((o) => o.name === 'wal-segsize')?.value;
  // With a restore_command the archive comes first and the folders after it, as the server's recovery does.
  const segmentSize = segText === undefined ? undefined : parseSize(segText.replace(/^(\d+)$/, '$1MB'));
  const archive = restoreCommand === undefined ? undefined : await ArchiveWal.open({ restoreCommand, dirs, segmentSize, cwd: io.cwd });
  const files = archive === undefined ? openWal({ path: dirs.length > 0 ? dirs : [path.resolve(io.cwd, 'pg_wal')], timeline: 'latest', recycleWindows: recycle }) : undefined;
  const history = archive?.history ?? files!.history;
  const oldTimeline: TimelineReader =
    archive === undefined
      ? folderTimelineReader(files!.dirs)
      : async (tli, start) => {
          const old = await ArchiveWal.open({ restoreCommand: restoreCommand!, dirs, segmentSize, cwd: io.cwd, timeline: tli });
          return (async function* () {
            try {
              yield* old.records({ start });
            } finally {
              old.close();
            }
          })();
        };
  return { archive, files, history, oldTimeline, segmentSize: archive?.segmentSize ?? files!.segmentSize };
}
