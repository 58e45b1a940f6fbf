package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.node.journal.FaultyDisk;
import dev.ferry.node.journal.Journal;
import dev.ferry.node.journal.JournalOptions;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.MarkFailed;
import dev.ferry.proto.peer.ForwardRequest;
import dev.ferry.proto.peer.Update;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An owner that learns it no longer owns a portion does not acknowledge its updates. */
class OwnerFencingTest {
  private static final long REGION = 1 << 20;
  @TempDir Path dir;

  @Test
  void anUpdateWhoseOwnershipMovedWhileItWasBeingStoredIsNotAcknowledged() throws Exception {
    ClusterState owning = TwoMembers.state(4 * REGION, REGION);
    int region = TwoMembers.regionOwnedBy(owning, "n1");
    ClusterState moved = ClusterTransitions.apply(owning,
        Command.newBuilder().setMarkFailed(MarkFailed.newBuilder().setId("n1")).build()).state();
    assertThat(moved.assignment().get("v").owner(region)).isEqualTo("n2");

    AtomicReference<ClusterState> state = new AtomicReference<>(owning);
    FaultyDisk disk = new FaultyDisk();
    FaultyDisk.Gate gate = new FaultyDisk.Gate();
    try (Journal journal = Journal.open(dir, new JournalOptions(1 << 20, 64 << 20, true, disk,
            e -> { throw new AssertionError(e); }), r -> { });
        gate) {
      DataPlane data = new DataPlane("n1", journal, state::get, 1 << 20, List.of());
      data.freeze(0).get(10, TimeUnit.SECONDS);
      disk.beforeForce(gate.holds());
      byte[] bytes = {9, 9, 9};
      CompletableFuture<SequenceNumber> ack = data.acceptForward(ForwardRequest.newBuilder()
          .setAssignmentVersion(owning.assignmentVersion()).setSender("n2").setId(1)
          .setUpdate(Update.newBuilder().setPrimaryId("p").setClientSeq(1).setVolume("v")
              .setRegion(region).setOffset(region * REGION).setData(ByteString.copyFrom(bytes))
              .setCrc32C(IngestProbe.crc(bytes)))
          .build());
      // the copy is stored but not yet forced when the new assignment is applied
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() ->
          String.valueOf(data.describe("p", 1).get()).endsWith(" pending"));
      state.set(moved);
      gate.open();
      Throwable e = catchThrowable(() -> ack.get(10, TimeUnit.SECONDS));
      Status s = Failures.status(e.getCause());
      assertThat(s.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(s.getDescription()).contains("no longer owns v/" + region);
      data.close();
    }
  }
}
