package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterState;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.journal.Journal;
import dev.ferry.node.journal.JournalOptions;
import dev.ferry.node.journal.JournalRecord;
import dev.ferry.node.journal.StoredRecord;
import dev.ferry.proto.peer.ForwardRequest;
import dev.ferry.proto.peer.Update;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** After a restart the journal's replay keeps numbering going and retries idempotent. */
class DataPlaneRecoveryTest {
  private static final long REGION = 1 << 20;
  @TempDir Path dir;

  private static JournalOptions options() {
    return new JournalOptions(1 << 20, 64 << 20, true, Disk.REAL,
        e -> { throw new AssertionError("fatal journal error in a test", e); });
  }

  private static ForwardRequest forward(ClusterState s, long clientSeq, int region, byte[] data) {
    return ForwardRequest.newBuilder().setAssignmentVersion(s.assignmentVersion()).setSender("n2")
        .setId(clientSeq).setUpdate(Update.newBuilder().setPrimaryId("p").setClientSeq(clientSeq)
            .setVolume("v").setRegion(region).setOffset(region * REGION)
            .setData(ByteString.copyFrom(data)).setCrc32C(IngestProbe.crc(data)))
        .build();
  }

  @Test
  void numbersContinueAfterTheHighestJournaledOneAndARetryGetsItsOriginalNumber() throws Exception {
    ClusterState s = TwoMembers.state(8 * REGION, REGION);
    int region = TwoMembers.regionOwnedBy(s, "n1");
    byte[] data = {1, 2, 3, 4};
    try (Journal journal = Journal.open(dir, options(), r -> { })) {
      DataPlane before = new DataPlane("n1", journal, () -> s, 1 << 20, List.of());
      before.freeze(0).get(10, TimeUnit.SECONDS);
      for (long seq = 1; seq <= 3; seq++) {
        assertThat(before.acceptForward(forward(s, seq, region, data)).get(10, TimeUnit.SECONDS))
            .isEqualTo(new SequenceNumber(1, seq));
      }
      before.close();
    }
    List<StoredRecord> replayed = new ArrayList<>();
    try (Journal journal = Journal.openAt(dir, options(), replayed::add)) {
      assertThat(replayed).hasSize(3);
      long bytes = journal.bytesUsed();
      DataPlane after = new DataPlane("n1", journal, () -> s, 1 << 20, replayed);
      // a restarted node numbers nothing before its first barrier: its state may lag
      var refused = after.acceptForward(forward(s, 9, region, data));
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> refused.get(10, TimeUnit.SECONDS))
          .hasMessageContaining("has not taken part in an epoch barrier");
      after.freeze(0).get(10, TimeUnit.SECONDS);
      // a retry of the second write: its original number, no new record
      assertThat(after.acceptForward(forward(s, 2, region, data)).get(10, TimeUnit.SECONDS))
          .isEqualTo(new SequenceNumber(1, 2));
      assertThat(journal.bytesUsed()).isEqualTo(bytes);
      // a new write continues the portion's order
      assertThat(after.acceptForward(forward(s, 4, region, data)).get(10, TimeUnit.SECONDS))
          .isEqualTo(new SequenceNumber(1, 4));
      after.close();
    }
  }
}
