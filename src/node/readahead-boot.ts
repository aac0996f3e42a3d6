// The read-ahead worker's thread. It starts before its code is at hand and waits for one message with its source
// text and data (readahead.ts start()); this module imports nothing else of pgwal.
import { Worker } from 'node:worker_threads';

/** The worker's first script: runs the source text of the first message, with `require` and the message's data. */
const BOOT = `require('node:worker_threads').parentPort.once('message', (m) => new Function('require', 'data', m.source)(require, m.data));`;

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
