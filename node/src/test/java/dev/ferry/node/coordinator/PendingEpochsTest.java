package dev.ferry.node.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import dev.ferry.client.AdminClient;
import dev.ferry.client.PrimaryClient;
import dev.ferry.control.ClusterState;
import dev.ferry.node.FerryNode;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.secondary.SecondaryServer;
import dev.ferry.proto.control.ReassignPortions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bounded pending epochs (DESIGN-NOTES): while the secondary does not apply, the leader closes
 * at most {@code cts.max.pending} epochs; the open epoch then stays open, still taking writes,
 * and closes again once the secondary catches up. Without the bound, epochs pile up in the
 * Raft state for as long as the secondary lags, and the lag grows instead of the epochs.
 */
class PendingEpochsTest {
  private static final long REGION = 1 << 20;
  @TempDir Path dir;

  @Test
  void epochsStopClosingWhileTheSecondaryLagsAndCloseAgainOnceItApplies() throws Exception {
    int drPort;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      drPort = free.getLocalPort();
    }
    HostAndPort dr = HostAndPort.fromParts("127.0.0.1", drPort);
    try (InProcessCluster cluster = new InProcessCluster(dir.resolve("site"), 2,
        Map.of("cts.period", "50ms", "cts.max.pending", "3"), i -> Disk.REAL)) {
      try (AdminClient c = cluster.client()) {
        c.createVolume("t", 4 * REGION, REGION, dr.toString(), true); // not running yet
      }
      FerryNode leader = cluster.nodes.get(Integer.parseInt(cluster.leader().substring(1)) - 1);
      await().atMost(Duration.ofSeconds(30))
          .until(() -> leader.coordinator().stats().roundsHeldBack() >= 5);
      ClusterState held = leader.raft().state();
      assertThat(held.epochs()).as("closed epochs waiting for the secondary").hasSize(3);
      assertThat(BarrierPlan.holdsBack(held, null, 3)).isTrue();
      assertThat(BarrierPlan.holdsBack(held, null, 4)).isFalse();
      assertThat(BarrierPlan.holdsBack(held, ReassignPortions.getDefaultInstance(), 3))
          .as("a planned assignment change closes anyway").isFalse();
      long open = held.openEpoch();
      try (PrimaryClient p = new PrimaryClient(
          cluster.admins.stream().map(HostAndPort::fromString).toList(), "pe", 8,
          Duration.ofSeconds(20))) {
        long epoch = p.write("t", 0, new byte[4096]).get(20, TimeUnit.SECONDS).epoch();
        assertThat(epoch).as("a write while held back goes into the open epoch").isEqualTo(open);
      }
      long heldRounds = leader.coordinator().stats().roundsHeldBack();
      await().atMost(Duration.ofSeconds(10))
          .until(() -> leader.coordinator().stats().roundsHeldBack() >= heldRounds + 5);
      assertThat(leader.raft().state().openEpoch()).as("no epoch closed while held back")
          .isEqualTo(open);
      try (SecondaryServer secondary = SecondaryServer.start(dir.resolve("dr"), dr)) {
        await().atMost(Duration.ofSeconds(30)).until(() -> {
          ClusterState s = leader.raft().state();
          return s.consistentEpoch() >= open && s.openEpoch() > open + 5;
        });
        assertThat(leader.raft().state().epochs().size()).isLessThanOrEqualTo(3);
      }
    }
  }
}
