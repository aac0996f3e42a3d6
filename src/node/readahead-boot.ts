// The read-ahead worker's thread, started before its code is at hand: Node's bootstrap of a worker (~30 ms) then
// runs on the second core while the calling thread is still loading its own modules (bench/README.md, dumpq2).
// The worker waits for one message with its source text and data (readahead.ts start()); this module imports
// nothing else of pgwal, so the CLI can start it before `pgwal dump` loads.
import { Worker } from 'node:worker_threads';

/** The worker's first script: runs the source text of the first message, with `require` and the message's data. */
const BOOT = `require('node:worker_threads').parentPort.once('message', (m) => new Function('require', 'data', m.source)(require, m.data));`;

let booted: Worker | undefined;

/** A worker waiting for its code; throws where threads cannot start. */
export function newBootWorker(): Worker {
  const w = new Worker(BOOT, {
    eval: true,
    // Not piped to process.stdout / stderr: making those puts a pipe on fd 1 (or 2, when `2>&1`) into
    // non-blocking mode, and the CLI's synchronous writes would wait out a full pipe in sleeps. It prints nothing.
    stdout: true,
    stderr: true,
  });
  // Never keeps the process alive.
  w.unref();
  return w;
}

/**
 * Starts the read-ahead worker's thread now, for a run known to read many windows (`pgwal dump` of a long range).
 * Nothing is lost when it goes unused: it never keeps the process alive.
 */
export function bootReadAhead(): void {
  if (booted !== undefined) return;
  try {
    const w = newBootWorker();
    // A thread that fails to start is simply not used (start() then makes its own, or reads on this thread).
    w.on('error', () => {
      if (booted === w) booted = undefined;
    });
    booted = w;
  } catch {
    booted = undefined;
  }
}

/** The worker bootReadAhead started, once (undefined when none was). */
export function takeBootedWorker(): Worker | undefined {
  const w = booted;
  booted = undefined;
  return w;
}
