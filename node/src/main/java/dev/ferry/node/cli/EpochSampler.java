package dev.ferry.node.cli;

import dev.ferry.client.AdminClient;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Samples the cluster's status every 100 ms during a load run (load --show-epochs): the open and
 * applied epoch for the progress line and the RPO into a histogram, so the run reports the RPO
 * distribution it saw. Runs on its own thread; the figures are read under the object's lock.
 */
final class EpochSampler implements AutoCloseable {
  private static final long INTERVAL_MILLIS = 100;
  private final AdminClient admin;
  private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ferry-epoch-sampler");
    t.setDaemon(true);
    return t;
  });
  private final Histogram rpoMillis = new Histogram(3);
  private String line = "";

  EpochSampler(AdminClient admin) {
    this.admin = admin;
    thread.scheduleWithFixedDelay(this::sample, 0, INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
  }

  private void sample() {
    try {
      var s = admin.status();
      synchronized (this) {
        if (s.getRpoMillis() >= 0) {
          rpoMillis.recordValue(s.getRpoMillis());
        }
        line = String.format("  epoch %d, applied %d, RPO %s", s.getOpenEpoch(),
            s.getConsistentEpoch(), s.getRpoMillis() < 0 ? "-" : s.getRpoMillis() + " ms");
      }
    } catch (RuntimeException e) {
      synchronized (this) {
        line = ""; // the cluster does not answer right now: leave the figures out
      }
    }
  }

  /** "  epoch open, applied N, RPO x ms" as last sampled; blank when it did not answer. */
  synchronized String line() {
    return line;
  }

  /** The RPO samples: count, p50, p99, max (milliseconds). */
  synchronized Map<String, Long> rpo() {
    Map<String, Long> o = new LinkedHashMap<>();
    o.put("samples", rpoMillis.getTotalCount());
    o.put("p50", rpoMillis.getValueAtPercentile(50));
    o.put("p99", rpoMillis.getValueAtPercentile(99));
    o.put("max", rpoMillis.getMaxValue());
    return o;
  }

  @Override
  public void close() {
    thread.shutdownNow();
  }
}
