package dev.ferry.node.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.client.AdminClient;
import dev.ferry.node.InProcessCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The signal a restarted node uses to know its control state is loaded (issue 10, point 6): the
 * commit index its own log held at start is recovered (not 0), so "applied up to it" means the
 * state has every volume committed before the restart.
 */
class ControlStateLoadedTest {
  @TempDir Path dir;

  @Test
  void aRestartedNodeIsLoadedOnceItReplayedUpToTheCommitIndexItHeld() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 3)) {
      long created;
      try (AdminClient c = cluster.client()) {
        created = c.createVolume("v3", 64L << 20, 16L << 20, "").getLogIndex();
      }
      await().atMost(Duration.ofSeconds(10)).until(() ->
          cluster.nodes.get(2).raft().state().volumes().containsKey("v3"));
      cluster.stop(2);
      cluster.restart(2);
      RaftNode raft = cluster.nodes.get(2).raft();
      assertThat(raft.commitIndexAtStart()).as("recovered from its log")
          .isGreaterThanOrEqualTo(created);
      await().atMost(Duration.ofSeconds(10)).until(raft::controlStateLoaded);
      assertThat(raft.state().volumes()).containsKey("v3");
      try (AdminClient node = InProcessCluster.client(List.of(cluster.admins.get(2)))) {
        assertThat(node.status().getVolumesList()).contains("v3");
      }
    }
  }
}
