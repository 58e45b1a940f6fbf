package dev.ferry.node.coordinator;

import dev.ferry.proto.admin.EpochSize;
import java.util.ArrayDeque;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * What the barrier measured on this node while it led: the coordination pause of the latest
 * {@value #WINDOW} barriers (one minute at the default period: what the cluster does now, not
 * since this node became leader) and the sizes of the latest closed epochs. Thread-safe
 * (written by the coordinator thread, read by Admin calls).
 */
public final class EpochStats {
  static final int WINDOW = 240;
  private static final int RECENT = 20;
  private final ArrayDeque<Long> window = new ArrayDeque<>();
  private long barriers;
  private final ArrayDeque<EpochSize> recent = new ArrayDeque<>();
  private long lastPauseMicros;
  private long roundsHeldBack;

  synchronized void barrierDone(long pauseMicros, EpochSize closed) {
    window.addLast(Math.max(1, pauseMicros));
    if (window.size() > WINDOW) {
      window.removeFirst();
    }
    barriers++;
    lastPauseMicros = pauseMicros;
    recent.addFirst(closed);
    while (recent.size() > RECENT) {
      recent.removeLast();
    }
  }

  /** A round that closed nothing: too many closed epochs wait for the secondaries. */
  synchronized void heldBack() {
    roundsHeldBack++;
  }

  /** Barrier rounds held back (see {@link #heldBack}) since this node led. */
  public synchronized long roundsHeldBack() {
    return roundsHeldBack;
  }

  /**
   * A consistent copy: last pause, p50 and p99 over the window, barriers since this node led,
   * and the recent sizes newest first.
   */
  public synchronized Snapshot snapshot() {
    Histogram pauses = new Histogram(3);
    window.forEach(pauses::recordValue);
    return new Snapshot(lastPauseMicros, pauses.getValueAtPercentile(50),
        pauses.getValueAtPercentile(99), barriers, List.copyOf(recent));
  }

  /** A copy of the figures at one moment. */
  public record Snapshot(long lastPauseMicros, long p50Micros, long p99Micros, long barriers,
      List<EpochSize> recent) {}
}
