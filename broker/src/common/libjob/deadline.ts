/**
 * A job's time limit as a timer. Node's timers hold at most 2^31-1 ms (~24.8 days) and fire
 * at once for anything longer: a far deadline (a scheduler that writes its graph's end, 2^63 ns,
 * for "no limit") is waited for in steps, never taken as "now".
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Call `fire` at `expiration` (seconds since the epoch); returns how to call it off. */
export function armDeadline(expiration: number, fire: () => void, now: () => number = Date.now): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = expiration * 1000 - now();
    if (left <= 0) {
      timer = undefined;
      fire();
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  timer = setTimeout(arm, Math.min(Math.max(0, expiration * 1000 - now()), MAX_TIMER_MS));
  return () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
}
