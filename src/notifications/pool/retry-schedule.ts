/** Longest pause between two probes of a failing target: a target that is back is found within this. */
export const MAX_PROBE_INTERVAL_MS = 30_000;
/** Longest wait between two attempts of a page, whatever the backoff says (Retry-After may ask for more). */
export const MAX_PAGE_RETRY_DELAY_MS = 60_000;

/**
 * How long a failing target rests before the next probe: 1 s (retry_backoff_secs when that is
 * shorter, but never under 250 ms), doubling with each failed probe, at most 30 s. Short at
 * first, because a target that refused one delivery may be fine for the next; a target that
 * is down is tried at most twice a minute.
 */
export function probeDelay(backoffMs: number, failures: number): number {
  const base = Math.min(1000, Math.max(250, backoffMs));
  return Math.min(MAX_PROBE_INTERVAL_MS, base * 2 ** Math.min(failures - 1, 30));
}

/**
 * When a delivery whose attempt failed is tried again: exponential backoff
 * (backoff × 2^(attempts-1), ±20 % so that deliveries that failed together do not come back
 * together), at most a minute for a page, and never before the target's Retry-After. A page
 * retried past its attempts (within its horizon) waits at least 1 s, doubling, whatever the
 * backoff: even with retry_backoff_secs = 0 it does not hammer a target for an hour.
 */
export function nextAttemptDelay(backoffMs: number, attempts: number, maxAttempts: number, isPage: boolean, retryAfterMs = 0): number {
  let delay = backoffMs * 2 ** Math.min(attempts - 1, 30) * (0.8 + Math.random() * 0.4);
  if (isPage) {
    if (attempts >= maxAttempts) delay = Math.max(delay, 1000 * 2 ** Math.min(attempts - maxAttempts, 30));
    delay = Math.min(delay, MAX_PAGE_RETRY_DELAY_MS);
  }
  return Math.max(delay, retryAfterMs);
}

/**
 * Whether a lease owner named `host:pid:random` on this host is a process that no longer runs:
 * its pid is this process's own (a restarted container is pid 1 again) or no process has it.
 */
export function ownerIsGone(owner: string, host: string, pid: number): boolean {
  if (!owner.startsWith(`${host}:`)) return false;
  const ownerPid = Number(owner.slice(host.length + 1).split(':')[0]);
  if (!Number.isInteger(ownerPid) || ownerPid <= 0) return false;
  if (ownerPid === pid) return true;
  try {
    process.kill(ownerPid, 0);
    return false;
  } catch (err) {
    // EPERM: a process of another user has it; it runs.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
