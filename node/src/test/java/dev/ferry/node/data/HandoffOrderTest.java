package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.control.ClusterState;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.journal.Journal;
import dev.ferry.node.journal.JournalOptions;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.MarkFailed;
import dev.ferry.proto.peer.HandoffRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Claim 13, an ordering found by FailoverIT: another member's last handoff for a failure can
 * reach the new owner after its state shows the failure but before its data thread has
 * handled it. It must still count, or the new owner waits for it forever and refuses Seal
 * (the epochs stop).
 */
class HandoffOrderTest {
  private static final long REGION = 1 << 20;
  @TempDir Path dir;

  @Test
  void aHandoffDoneThatArrivesBeforeTheFailureIsHandledStillCounts() throws Exception {
    ClusterState before = TwoMembers.state(List.of("m", "b", "x"), 12 * REGION, REGION);
    ClusterState after = TwoMembers.apply(before, Command.newBuilder()
        .setMarkFailed(MarkFailed.newBuilder().setId("x")).build());
    // the member that takes over at least one of x's portions
    String self = null;
    var was = before.assignment().get("v");
    var now = after.assignment().get("v");
    for (int r = 0; r < was.regions() && self == null; r++) {
      if (was.owner(r).equals("x")) {
        self = now.owner(r);
      }
    }
    String other = self.equals("m") ? "b" : "m";
    AtomicReference<ClusterState> state = new AtomicReference<>(before);
    try (Journal journal = Journal.open(dir, new JournalOptions(1 << 20, 64 << 20, true, Disk.REAL,
            e -> { throw new AssertionError("fatal journal error in a test", e); }), r -> { });
        DataPlane data = new DataPlane(self, journal, state::get, 1 << 20, List.of())) {
      long epoch = before.openEpoch();
      data.freeze(epoch).get(10, TimeUnit.SECONDS);
      data.stateChanged(before);
      state.set(after); // applied by Raft; the data thread has not handled it yet
      data.acceptHandoff(HandoffRequest.newBuilder().setAssignmentVersion(after.assignmentVersion())
          .setSender(other).setFailed("x").setDone(true).build()).get(10, TimeUnit.SECONDS);
      data.stateChanged(after);
      // nothing left to wait for: the other member's done came first, its own is local
      assertThat(data.seal(epoch).get(10, TimeUnit.SECONDS)).isEmpty();
    }
  }
}
