// Who owns a lock or a spill folder: a PID with its start time, so that a PID reused by another process after
// the owner died (a restarted container's PID 1, a busy machine's wrap-around) is not taken for the owner.
import fs from 'node:fs';

/**
 * The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or undefined where
 * there is no such process or no /proc (then only the PID can be checked).
 */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isSafeInteger(start) ? start : undefined;
}

/** This process's start time (see processStartTime), read once. */
let own: number | undefined | null = null;
export function ownStartTime(): number | undefined {
  if (own === null) own = processStartTime(process.pid);
  return own;
}

/**
 * Whether process `pid`, started at `startTime` (when recorded), still runs. Without a recorded start time, or
 * without /proc, only the PID is checked; a process this one cannot signal (EPERM) exists.
 */
export function processAlive(pid: number, startTime: number | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (startTime === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === startTime;
}

/** When process `pid` started, in ms since the epoch (boot time + start ticks at /proc's 100 Hz), if known. */
export function processStartedAt(pid: number): number | undefined {
  const ticks = processStartTime(pid);
  if (ticks === undefined) return undefined;
  let boot: number;
  try {
    const m = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'latin1'));
    if (m === null) return undefined;
    boot = Number(m[1]);
  } catch {
    return undefined;
  }
  // USER_HZ, the unit of /proc's tick counts, is 100 on every architecture Node runs on.
  return boot * 1000 + ticks * 10;
}
