// getopt_long as PostgreSQL's tools use it: clustered short flags, `-sVALUE` / `-s VALUE`, `--long=VALUE` /
// `--long VALUE`, optional arguments only with `=` (or attached for short options), `--` ends options.
export interface OptionSpec {
  short?: string;
  long: string;
  arg: 'none' | 'required' | 'optional';
}

export interface Parsed {
  options: { name: string; value: string | undefined }[];
  positional: string[];
}

export function getopt(argv: string[], specs: OptionSpec[], bad: (message: string) => never): Parsed {
  const options: Parsed['options'] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      // getopt_long accepts an unambiguous prefix of a long option.
      const exact = specs.find((s) => s.long === name);
      const matches = exact ? [exact] : specs.filter((s) => s.long.startsWith(name));
      if (matches.length !== 1) bad(matches.length === 0 ? `unrecognized option '${a}'` : `option '${a}' is ambiguous`);
      const spec = matches[0]!;
      let value: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
      if (spec.arg === 'none' && value !== undefined) bad(`option '--${spec.long}' doesn't allow an argument`);
      if (spec.arg === 'required' && value === undefined) {
        if (i + 1 >= argv.length) bad(`option '--${spec.long}' requires an argument`);
        value = argv[++i];
      }
      options.push({ name: spec.long, value });
    } else if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const ch = a[j]!;
        const spec = specs.find((s) => s.short === ch);
        if (spec === undefined) bad(`invalid option -- '${ch}'`);
        if (spec.arg === 'none') {
          options.push({ name: spec.long, value: undefined });
          continue;
        }
        const rest = a.slice(j + 1);
        if (rest.length > 0) options.push({ name: spec.long, value: rest });
        else if (spec.arg === 'required') {
          if (i + 1 >= argv.length) bad(`option requires an argument -- '${ch}'`);
          options.push({ name: spec.long, value: argv[++i] });
        } else options.push({ name: spec.long, value: undefined });
        break;
      }
    } else {
      positional.push(a);
    }
  }
  return { options, positional };
}
