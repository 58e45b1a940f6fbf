package dev.ferry.node.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.node.InProcessCluster;
import dev.ferry.node.cli.FerryCliTest.Run;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ferry admin cts-period} against a one-node cluster in the test JVM. */
class CtsPeriodCliTest {
  @TempDir Path dir;

  @Test
  void setsPrintsAndResetsTheEpochPeriod() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 1)) {
      String node = cluster.admins.get(0);
      Run json = FerryCliTest.run("admin", "--cluster", node, "cts-period", "100ms", "--json");
      assertThat(json.exit()).as(json.err()).isZero();
      assertThat(json.out().strip()).isEqualTo("{\"ctsPeriodMillis\":100}");

      Run text = FerryCliTest.run("admin", "--cluster", node, "cts-period", "1s");
      assertThat(text.exit()).as(text.err()).isZero();
      assertThat(text.out().strip()).isEqualTo("epoch period 1000 ms (cluster-wide)");
      assertThat(cluster.nodes.get(0).raft().state().ctsPeriodMillis()).isEqualTo(1000);

      Run tooShort = FerryCliTest.run("admin", "--cluster", node, "cts-period", "5ms");
      assertThat(tooShort.exit()).isEqualTo(FerryCli.FAILED);
      assertThat(tooShort.err().strip()).isEqualTo("ferry: cts period must be between 10 and "
          + "60000 ms (or 0: each node's cts.period), got 5 ms (INVALID_ARGUMENT)");
      assertThat(tooShort.out()).isEmpty();

      Run reset = FerryCliTest.run("admin", "--cluster", node, "cts-period", "default");
      assertThat(reset.exit()).as(reset.err()).isZero();
      assertThat(reset.out().strip()).isEqualTo("epoch period 250 ms (each node's cts.period)");
      assertThat(cluster.nodes.get(0).raft().state().ctsPeriodMillis()).isZero();
    }
  }
}
