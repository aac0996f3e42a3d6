// A timestamp's microseconds split into whole days since 2000-01-01 and the time of day, without BigInt: the one
// split the text, byte and pgoutput writers of timestamps share.
const DAY_US = 86_400_000_000;

/** The time of day (µs, in [0, one day)) of the last splitDays call. */
export let splitTod = 0;

/** The days of `us` (a safe integer of µs since 2000-01-01), rounded down; its time of day is left in splitTod. */
export function splitDays(us: number): number {
  let days = Math.floor(us / DAY_US);
  let tod = us - days * DAY_US;
  // The division rounds: step back into [0, one day) when it lands one day off.
  if (tod < 0) {
    days -= 1;
    tod += DAY_US;
  } else if (tod >= DAY_US) {
    days += 1;
    tod -= DAY_US;
  }
  splitTod = tod;
  return days;
}
