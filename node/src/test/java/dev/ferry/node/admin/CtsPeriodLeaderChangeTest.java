package dev.ferry.node.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.client.AdminClient;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.Disk;
import dev.ferry.proto.admin.EpochsReply;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A period set with SetCtsPeriod is replicated state: the leader elected after the old one
 * stopped runs barriers at it, and the old leader has it again after its restart.
 */
class CtsPeriodLeaderChangeTest {
  /** Every node's own cts.period: 30 epochs at it would take a minute. */
  private static final Map<String, String> SLOW = Map.of("cts.period", "2s");

  private static final long PERIOD_MILLIS = 20;

  @TempDir Path dir;

  @Test
  void aNewLeaderAndARestartedNodeKeepTheClusterWidePeriod() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 3, SLOW, i -> Disk.REAL);
        AdminClient c = cluster.client()) {
      c.setCtsPeriod(PERIOD_MILLIS);
      awaitThirtyEpochs(c);

      String old = c.status().getLeader();
      int oldIndex = indexOf(old);
      cluster.stop(oldIndex);
      // freezes of the stopped node fail, so no epoch closes until it is back, but the new
      // leader already runs at the cluster-wide period
      await().atMost(Duration.ofSeconds(20)).ignoreExceptions().untilAsserted(() -> {
        String leader = c.status().getLeader();
        assertThat(leader).isNotEmpty().isNotEqualTo(old);
        EpochsReply e = c.epochsOf(indexOf(leader));
        assertThat(e.getLeader()).isTrue();
        assertThat(e.getCtsPeriodMillis()).isEqualTo(PERIOD_MILLIS);
      });

      cluster.restart(oldIndex);
      awaitThirtyEpochs(c);
      await().atMost(Duration.ofSeconds(20)).ignoreExceptions().untilAsserted(() -> {
        assertThat(c.clusterStateOf(oldIndex).getCtsPeriodMillis()).isEqualTo(PERIOD_MILLIS);
        assertThat(c.epochsOf(oldIndex).getCtsPeriodMillis()).isEqualTo(PERIOD_MILLIS);
      });
    }
  }

  private static int indexOf(String memberId) {
    return Integer.parseInt(memberId.substring(1)) - 1;
  }

  /** 30 epochs close within 20 s: only at the cluster-wide period, not at the nodes' 2 s. */
  private static void awaitThirtyEpochs(AdminClient c) {
    long open = c.status().getOpenEpoch();
    await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> c.status().getOpenEpoch() >= open + 30);
  }
}
