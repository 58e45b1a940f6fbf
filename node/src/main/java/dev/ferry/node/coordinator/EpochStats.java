package dev.ferry.node.coordinator;

import dev.ferry.proto.admin.EpochSize;
import java.util.ArrayDeque;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * What the barrier measured on this node while it led: the coordination pause of each barrier
 * and the sizes of the latest closed epochs. Thread-safe (written by the coordinator thread,
 * read by Admin calls).
 */
public final class EpochStats {
  private static final int RECENT = 20;
  private final Histogram pauses = new Histogram(3);
  private final ArrayDeque<EpochSize> recent = new ArrayDeque<>();
  private long lastPauseMicros;

  synchronized void barrierDone(long pauseMicros, EpochSize closed) {
    pauses.recordValue(Math.max(1, pauseMicros));
    lastPauseMicros = pauseMicros;
    recent.addFirst(closed);
    while (recent.size() > RECENT) {
      recent.removeLast();
    }
  }

  /** A consistent copy: last pause, p50, p99, count, and the recent sizes newest first. */
  public synchronized Snapshot snapshot() {
    return new Snapshot(lastPauseMicros, pauses.getValueAtPercentile(50),
        pauses.getValueAtPercentile(99), pauses.getTotalCount(), List.copyOf(recent));
  }

  /** A copy of the figures at one moment. */
  public record Snapshot(long lastPauseMicros, long p50Micros, long p99Micros, long barriers,
      List<EpochSize> recent) {}
}
