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

  /**
   * The failed owner sealed two updates of a portion in a closed epoch; only the first was
   * mirrored (so only it could have been acknowledged). The new owner takes over what survived
   * and, rather than staging a portion that can never match the sealed watermark, proposes
   * AmendWatermark with the watermark of what it holds.
   */
  @Test
  void aSealedUpdateNoSurvivorHoldsLeadsToAnAmendedWatermark() throws Exception {
    ClusterState before = TwoMembers.state(List.of("m", "b", "x"), 12 * REGION, REGION);
    before = TwoMembers.apply(before, Command.newBuilder().setCreateVolume(
        dev.ferry.proto.control.CreateVolume.newBuilder().setName("w").setSizeBytes(12 * REGION)
            .setRegionSizeBytes(REGION).setSecondary("127.0.0.1:1")).build());
    var was = before.assignment().get("w");
    int region = -1;
    for (int r = 0; r < was.regions() && region < 0; r++) {
      region = was.owner(r).equals("x") ? r : -1;
    }
    long epoch = before.openEpoch();
    byte[] one = {1};
    byte[] two = {2};
    dev.ferry.control.WatermarkDigest sealed = new dev.ferry.control.WatermarkDigest();
    sealed.add(1, region * REGION, 1, IngestProbe.crc(one));
    sealed.add(2, region * REGION + 1, 1, IngestProbe.crc(two));
    ClusterState closed = TwoMembers.apply(before, Command.newBuilder().setCloseEpoch(
        dev.ferry.proto.control.CloseEpoch.newBuilder().setEpoch(epoch).addWatermarks(
            dev.ferry.proto.control.Watermark.newBuilder().setVolume("w").setRegion(region)
                .setLastN(2).setCount(2).setBytes(2)
                .setDigest(com.google.protobuf.ByteString.copyFrom(sealed.digest())))).build());
    ClusterState after = TwoMembers.apply(closed, Command.newBuilder()
        .setMarkFailed(MarkFailed.newBuilder().setId("x")).build());
    String self = after.assignment().get("w").owner(region);
    String other = self.equals("m") ? "b" : "m";
    AtomicReference<ClusterState> state = new AtomicReference<>(closed);
    List<Command> proposed = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (Journal journal = Journal.open(dir, options(), r -> { });
        DataPlane data = new DataPlane(self, journal, state::get, 1 << 20, List.of(), c -> {
          proposed.add(c);
          return java.util.concurrent.CompletableFuture.completedFuture(null);
        })) {
      data.freeze(epoch + 1).get(10, TimeUnit.SECONDS);
      data.stateChanged(closed);
      state.set(after);
      data.acceptHandoff(HandoffRequest.newBuilder().setAssignmentVersion(after.assignmentVersion())
          .setSender(other).setFailed("x").setFailedIncarnation(1).setDone(true).addUpdates(dev.ferry.proto.peer.Update
              .newBuilder().setPrimaryId("p").setClientSeq(1).setVolume("w").setRegion(region)
              .setOffset(region * REGION).setData(com.google.protobuf.ByteString.copyFrom(one))
              .setCrc32C(IngestProbe.crc(one)).setEpoch(epoch).setN(1)).build())
          .get(10, TimeUnit.SECONDS);
      data.stateChanged(after);
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
          .until(() -> proposed.stream().anyMatch(Command::hasAmendWatermark));
      var amend = proposed.stream().filter(Command::hasAmendWatermark).findFirst().orElseThrow()
          .getAmendWatermark();
      assertThat(amend.getEpoch()).isEqualTo(epoch);
      assertThat(amend.getWatermark().getCount()).isEqualTo(1);
      assertThat(amend.getWatermark().getLastN()).isEqualTo(1);
      // and the amendment is one the state machine accepts
      TwoMembers.apply(after, Command.newBuilder().setAmendWatermark(amend).build());
    }
  }

  private static JournalOptions options() {
    return new JournalOptions(1 << 20, 64 << 20, true, Disk.REAL,
        e -> { throw new AssertionError("fatal journal error in a test", e); });
  }

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
    try (Journal journal = Journal.open(dir, options(), r -> { });
        DataPlane data = new DataPlane(self, journal, state::get, 1 << 20, List.of())) {
      long epoch = before.openEpoch();
      data.freeze(epoch).get(10, TimeUnit.SECONDS);
      data.stateChanged(before);
      state.set(after); // applied by Raft; the data thread has not handled it yet
      data.acceptHandoff(HandoffRequest.newBuilder().setAssignmentVersion(after.assignmentVersion())
          .setSender(other).setFailed("x").setFailedIncarnation(1).setDone(true).build()).get(10, TimeUnit.SECONDS);
      data.stateChanged(after);
      // nothing left to wait for: the other member's done came first, its own is local
      assertThat(data.seal(epoch).get(10, TimeUnit.SECONDS)).isEmpty();
    }
  }
}
