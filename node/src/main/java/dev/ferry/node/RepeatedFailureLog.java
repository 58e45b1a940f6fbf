package dev.ferry.node;

import java.util.function.LongSupplier;

/**
 * Decides when a failure that repeats is worth a log line: a new kind of failure (another
 * target or status) at once, the same kind again once per interval. A count-based limit stays
 * silent for minutes when each attempt waits out a deadline; a secondary that is down fails
 * every portion of every closed epoch on each retry (a thousand lines a minute unlimited).
 * Not thread-safe: each user keeps one per owning thread.
 */
public final class RepeatedFailureLog {
  private final long intervalMillis;
  private final LongSupplier nowMillis;
  private String lastKind = "";
  private long loggedAtMillis;

  /** @param nowMillis a monotonic clock in milliseconds (injected so tests can drive it) */
  public RepeatedFailureLog(long intervalMillis, LongSupplier nowMillis) {
    this.intervalMillis = intervalMillis;
    this.nowMillis = nowMillis;
  }

  /** A monotonic wall-independent clock for production use. */
  public static long monotonicMillis() {
    return System.nanoTime() / 1_000_000;
  }

  /** Whether a failure of {@code kind} should be logged now; if so, it counts as logged. */
  public boolean shouldLog(String kind) {
    long now = nowMillis.getAsLong();
    if (kind.equals(lastKind) && now - loggedAtMillis < intervalMillis) {
      return false;
    }
    lastKind = kind;
    loggedAtMillis = now;
    return true;
  }
}
