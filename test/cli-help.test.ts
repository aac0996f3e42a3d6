// Each command's help lists exactly the options the command parses (and every subcommand answers --help):
// the options a help text documents are those on its option lines ("  -x, --name …" / "  --name …") or, for the
// slot subcommands, on their usage lines; they must equal the command's option table.
import { describe, expect, it } from 'vitest';
import { DUMP_HELP, DUMP_OPTIONS } from '../src/cli/dump.js';
import { DECODE_HELP, DECODE_OPTIONS } from '../src/cli/decode.js';
import { TIMELINE_HELP, TIMELINE_OPTIONS } from '../src/cli/timeline.js';
import { ORPHANS_HELP, ORPHANS_OPTIONS } from '../src/cli/orphans.js';
import { SLOT_OPTIONS, slotSubHelp } from '../src/cli/slot.js';
import type { OptionSpec } from '../src/cli/getopt.js';
import { runCli } from './support/cli.js';

/** Long options named at the start of a help line (after an optional short form). */
function optionLines(help: string): string[] {
  const names = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^\s{1,8}(?:-\S, )?--([a-z0-9-]+)/.exec(line);
    if (m !== null) names.add(m[1]!);
    // "--a, --b X" and "-p, --path, --restore-command, …" lines name several.
    if (m !== null) for (const more of line.slice(m[0].length).matchAll(/^[^ ]*?(?:,\s*(?:-\S, )?--([a-z0-9-]+))/g)) if (more[1]) names.add(more[1]);
  }
  return [...names].sort();
}

const longs = (specs: readonly OptionSpec[]): string[] => [...new Set(specs.map((s) => s.long))].sort();

/** optionLines, plus the options documented by their short form alone ("  -o NAME…"). */
function documented(help: string, specs: readonly OptionSpec[]): string[] {
  const names = new Set(optionLines(help));
  for (const line of help.split('\n')) {
    const m = /^\s{1,8}-(\S)[ ,]/.exec(line);
    const spec = m === null ? undefined : specs.find((s) => s.short === m[1]);
    if (spec !== undefined) names.add(spec.long);
  }
  for (const m of help.matchAll(/(?:^|[ \[,])-(\S)(?=[ \],:])/gm)) {
    const spec = specs.find((s) => s.short === m[1]);
    if (spec !== undefined && help.includes(`-${m[1]}`)) names.add(spec.long);
  }
  return [...names].sort();
}

describe('help texts list what the commands parse', () => {
  it.each([
    ['dump', DUMP_HELP, DUMP_OPTIONS],
    ['decode', DECODE_HELP, DECODE_OPTIONS],
    ['timeline', TIMELINE_HELP, TIMELINE_OPTIONS],
  ] as const)('pgwal %s', (_name, help, specs) => {
    expect(documented(help, specs)).toEqual(longs(specs));
  });

  it('pgwal slot orphans (its own options and decode\'s shared ones)', () => {
    const names = new Set(documented(ORPHANS_HELP, ORPHANS_OPTIONS));
    for (const m of ORPHANS_HELP.matchAll(/--([a-z0-9-]+)/g)) names.add(m[1]!);
    expect(longs(ORPHANS_OPTIONS).filter((n) => !names.has(n))).toEqual([]);
  });

  it.each(Object.keys(SLOT_OPTIONS))('pgwal slot %s: --help and -h answer, listing its options', async (sub) => {
    const help = slotSubHelp(sub);
    const usage = help.split('\n').filter((l) => /^\s+pgwal slot |^\s{10,}\[/.test(l)).join(' ');
    const named = [...new Set([...usage.matchAll(/--([a-z0-9-]+)/g)].map((m) => m[1]!))].sort();
    expect(named).toEqual(longs(SLOT_OPTIONS[sub as keyof typeof SLOT_OPTIONS]));
    for (const flag of ['--help', '-h']) {
      const r = await runCli(['slot', sub, flag]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(help);
    }
  });

  it('no help calls a working command a preview or lists as missing what works', async () => {
    const top = await runCli(['--help']);
    expect(top.stdout + DECODE_HELP).not.toMatch(/preview|Not yet: DDL/);
  });
});
