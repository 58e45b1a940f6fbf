package dev.ferry.node.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.Disk;
import dev.ferry.proto.control.MemberState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md §6 / issue 5, item 2: a drained member gives its portions away at an epoch end;
 * once every epoch before that is applied, the coordinator removes it: REMOVED in the state,
 * and no longer a Raft voter. The remaining voters go on closing epochs.
 */
class DrainRemovalTest {
  @TempDir Path dir;

  @Test
  void aDrainedMemberIsRemovedFromTheMembersAndTheRaftConfiguration() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 4, Map.of("cts.period", "50ms"),
        i -> Disk.REAL)) {
      cluster.createVolume("dv", 8 << 20, 1 << 20, "");
      String drained = cluster.nodes.get(3).id();
      try (var admin = cluster.client()) {
        admin.drainMember(drained);
      }
      await().atMost(Duration.ofSeconds(20)).until(() -> {
        var s = cluster.nodes.get(0).raft().state();
        return s.members().get(drained).state() == MemberState.REMOVED
            && cluster.nodes.get(0).raft().raftPeers().stream()
                .noneMatch(p -> p.getId().toString().equals(drained));
      });
      var s = cluster.nodes.get(0).raft().state();
      assertThat(s.assignment().values()).allMatch(a -> a.placementsOf(drained) == 0);
      long open = s.openEpoch();
      await().atMost(Duration.ofSeconds(20))
          .until(() -> cluster.nodes.get(0).raft().state().openEpoch() > open + 5);
    }
  }
}
