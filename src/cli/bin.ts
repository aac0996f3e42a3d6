// The `pgwal` executable: starts the CLI bundle (pgwal.js beside it, one CommonJS file) from the V8 code cache
// that the build made by running it (pgwal.js.cache). Compiling the CLI's functions was a third of a small
// decode's start; with the cache they are read back instead. A cache from another Node or V8 version, or other
// V8 flags, is rejected by V8 and the bundle is compiled as without one (bench/README.md, start-up). V8 checks
// the source and its version, not the bytes, so the file carries a CRC-32 of its own (as Node's compile cache does).
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import zlib from 'node:zlib';

/** What pgwal.js exports (src/cli/main.ts). */
export interface CliBundle {
  main(argv: string[]): Promise<number>;
  commandModule(command: string): Promise<{ run(argv: string[], io: unknown): Promise<number> }>;
  run(argv: string[]): Promise<void>;
}

/** The bundle's path and its code cache's, beside this file. */
export function bundlePaths(dir: string): { file: string; cache: string } {
  const file = path.join(dir, 'pgwal.js');
  return { file, cache: `${file}.cache` };
}

/**
 * Compiles and runs the bundle as Node runs a CommonJS module (the same wrapper, so its `require` resolves from
 * its own folder), with `cachedData` if given; the script is returned for a new cache to be taken from it.
 */
export function loadBundle(file: string, cachedData: Buffer | undefined): { bundle: CliBundle; script: vm.Script } {
  const source = fs.readFileSync(file, 'utf8');
  const script = new vm.Script(Module.wrap(source), { filename: file, ...(cachedData !== undefined ? { cachedData } : {}) });
  const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  const module = { exports: {} as CliBundle };
  wrapper.call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
  return { bundle: module.exports, script };
}

/** The cache file's bytes: a CRC-32 (zlib's, little-endian) of the V8 code cache, then the code cache. */
export function encodeCodeCache(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + data.length);
  out.writeUInt32LE(zlib.crc32(data), 0);
  data.copy(out, 4);
  return out;
}

/** The V8 code cache in `file`, or undefined when there is none, or it is damaged, or Node cannot check it. */
export function readCodeCache(file: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    // No cache (a build without one, or it was removed): compiled as usual.
    return undefined;
  }
  // zlib.crc32 is Node 20.15's; before it the cache goes unused.
  if (typeof zlib.crc32 !== 'function' || bytes.length < 4) return undefined;
  const data = bytes.subarray(4);
  return zlib.crc32(data) === bytes.readUInt32LE(0) ? data : undefined;
}

if (typeof require !== 'undefined' && require.main === module) {
  const { file, cache } = bundlePaths(__dirname);
  void loadBundle(file, readCodeCache(cache)).bundle.run(process.argv.slice(2));
}
