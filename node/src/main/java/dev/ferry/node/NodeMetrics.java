package dev.ferry.node;

import com.google.common.net.HostAndPort;
import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.node.data.WriteOutcomes;
import dev.ferry.proto.control.MemberState;
import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.time.Clock;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * A node's Prometheus metrics, served at {@code metrics.listen} (GET /metrics): the epochs and
 * the RPO as this node sees them, member states, journal use, and what the ingest answered
 * primaries. Gauges read the replicated state when scraped; counters and the histogram are
 * thread-safe. Each node has its own registry (several nodes share one JVM in tests).
 */
final class NodeMetrics implements AutoCloseable, WriteOutcomes {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Counter writes;
  private final Histogram ackSeconds;
  private final Counter repairs;
  private HTTPServer server;

  NodeMetrics(Supplier<ClusterState> state, Clock clock, LongSupplier journalBytes,
      long journalBudgetBytes) {
    GaugeWithCallback.builder().name("ferry_epoch_open")
        .help("the epoch writes are numbered in now")
        .callback(cb -> cb.call(state.get().openEpoch())).register(registry);
    GaugeWithCallback.builder().name("ferry_epoch_applied")
        .help("the last epoch every secondary has applied (the consistent point)")
        .callback(cb -> cb.call(state.get().consistentEpoch())).register(registry);
    GaugeWithCallback.builder().name("ferry_rpo_seconds")
        .help("now minus the close time of the last applied epoch, by this node's clock;"
            + " absent before the first epoch is applied")
        .callback(cb -> {
          long rpo = state.get().rpoMillis(clock.millis());
          if (rpo >= 0) {
            cb.call(rpo / 1000.0);
          }
        }).register(registry);
    GaugeWithCallback.builder().name("ferry_members")
        .help("members of the cluster by state").labelNames("state")
        .callback(cb -> {
          Map<MemberState, Integer> count = new EnumMap<>(MemberState.class);
          for (Member m : state.get().members().values()) {
            count.merge(m.state(), 1, Integer::sum);
          }
          count.forEach((st, n) -> cb.call(n, st.name()));
        }).register(registry);
    GaugeWithCallback.builder().name("ferry_journal_bytes")
        .help("journal bytes on disk and queued (what journal.budget limits)")
        .callback(cb -> cb.call(journalBytes.getAsLong())).register(registry);
    GaugeWithCallback.builder().name("ferry_journal_budget_bytes")
        .help("journal.budget: past it writes fail with RESOURCE_EXHAUSTED")
        .callback(cb -> cb.call(journalBudgetBytes)).register(registry);
    writes = Counter.builder().name("ferry_writes")
        .help("primaries' writes this node answered, by result (acked or the gRPC status)")
        .labelNames("result").register(registry);
    ackSeconds = Histogram.builder().name("ferry_write_ack_seconds")
        .help("time from receiving a primary's write to acknowledging it")
        .classicOnly()
        .classicUpperBounds(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
            2.5, 5)
        .register(registry);
    repairs = Counter.builder().name("ferry_payload_repairs")
        .help("payloads damaged in this node's journal and repaired from another member's copy")
        .register(registry);
  }

  /** Serves GET /metrics on {@code listen}; returns the port (useful when it was 0). */
  int serve(HostAndPort listen) throws IOException {
    server = HTTPServer.builder().hostname(listen.getHost()).port(listen.getPort())
        .registry(registry).buildAndStart();
    return server.getPort();
  }

  @Override
  public void acked(long nanos) {
    writes.labelValues("acked").inc();
    ackSeconds.observe(nanos / 1e9);
  }

  @Override
  public void failed(Status.Code code) {
    writes.labelValues(code.name()).inc();
  }

  void repaired() {
    repairs.inc();
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
  }
}
