package dev.ferry.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import dev.ferry.client.AdminClient;
import dev.ferry.client.PrimaryClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** metrics.listen: each node serves Prometheus text at /metrics, with values that move. */
class NodeMetricsTest {
  @TempDir Path dir;

  @Test
  void nodesServeTheirEpochsMembersJournalAndAnsweredWrites() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 3,
        Map.of("metrics.listen", "127.0.0.1:0", "cts.period", "100ms"), i -> dev.ferry.node.journal.Disk.REAL)) {
      try (AdminClient c = cluster.client()) {
        c.createVolume("m", 4 << 20, 1 << 20, "");
      }
      int writes = 40;
      List<CompletableFuture<PrimaryClient.WriteAck>> acks = new ArrayList<>();
      try (PrimaryClient p = new PrimaryClient(
          cluster.admins.stream().map(HostAndPort::fromString).toList(), "mp", 8, Duration.ofSeconds(20))) {
        for (int i = 0; i < writes; i++) {
          acks.add(p.write("m", (i % 4) * (1L << 20) + i * 512L, new byte[512]));
        }
        for (CompletableFuture<PrimaryClient.WriteAck> a : acks) {
          a.get(20, TimeUnit.SECONDS);
        }
      }
      double acked = 0;
      double observed = 0;
      for (FerryNode n : cluster.nodes) {
        assertThat(n.metricsPort()).as("metrics port of %s", n.id()).isPositive();
        String text = scrape(n.metricsPort());
        assertThat(value(text, "ferry_members{state=\"ACTIVE\"}")).isEqualTo(3);
        assertThat(value(text, "ferry_journal_bytes")).as("journal of %s", n.id()).isPositive();
        assertThat(value(text, "ferry_journal_budget_bytes")).isEqualTo(512.0 * (1 << 20));
        acked += valueOrZero(text, "ferry_writes_total{result=\"acked\"}");
        observed += valueOrZero(text, "ferry_write_ack_seconds_count");
      }
      // the client sends each write to its portion's owner: every ack counted once, somewhere
      assertThat(acked).isEqualTo(writes);
      assertThat(observed).isEqualTo(writes);
      FerryNode first = cluster.nodes.get(0);
      long before = (long) value(scrape(first.metricsPort()), "ferry_epoch_open");
      await().atMost(Duration.ofSeconds(10)).until(() ->
          value(scrape(first.metricsPort()), "ferry_epoch_open") > before);
    }
  }

  @Test
  void withoutTheKeyThereIsNoEndpoint() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 1)) {
      assertThat(cluster.nodes.get(0).metricsPort()).isEqualTo(-1);
    }
  }

  private static String scrape(int port) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    return r.body();
  }

  private static double value(String text, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
    assertThat(m.find()).as("series %s in:%n%s", series, text).isTrue();
    return Double.parseDouble(m.group(1));
  }

  private static double valueOrZero(String text, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }
}
