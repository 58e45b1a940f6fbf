package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterState;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.journal.Journal;
import dev.ferry.node.journal.JournalOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restarted node joins its first barrier (and redoes a restart's duties: the handoff waits
 * of unsettled failures, re-mirroring) only once its Raft log is replayed; until then it is
 * frozen like every member but numbers nothing. n1 of a two-member state, its mirror
 * unreachable: only whether it numbers matters here.
 */
class BarrierJoinTest {
  private static final long REGION = 1 << 20;
  private static final String NOT_IN_BARRIER = "has not taken part in an epoch barrier";
  @TempDir Path dir;

  @Test
  void aNodeStillReplayingItsRaftLogIsFrozenButNumbersNothingUntilItIsLoaded() throws Exception {
    ClusterState state = TwoMembers.state(8 * REGION, REGION);
    AtomicBoolean loaded = new AtomicBoolean(false);
    try (Journal journal = Journal.open(dir, new JournalOptions(1 << 20, 64 << 20, true,
            Disk.REAL, e -> { throw new AssertionError("fatal journal error", e); }), r -> { });
        DataPlane data = new DataPlane("n1", journal, () -> state, 64 << 10, List.of())) {
      data.waitForControlState(loaded::get);
      long offset = TwoMembers.regionOwnedBy(state, "n1") * REGION;
      data.freeze(0).get(10, TimeUnit.SECONDS);
      assertThat(failure(data, 1, offset)).contains(NOT_IN_BARRIER);
      assertThat(data.describe("p", 1).get(10, TimeUnit.SECONDS)).as("nothing numbered").isNull();

      loaded.set(true);
      data.freeze(1).get(10, TimeUnit.SECONDS);
      failure(data, 2, offset); // numbered now; the unreachable mirror fails it in the end
      assertThat(data.describe("p", 2).get(10, TimeUnit.SECONDS)).startsWith("OWNED 2 1 ");
    }
  }

  /** The message the write of {@code clientSeq} failed with. */
  private static String failure(DataPlane data, long clientSeq, long offset) throws Exception {
    byte[] block = new byte[4096];
    try {
      data.write("p", clientSeq, "v", offset, ByteString.copyFrom(block), IngestProbe.crc(block))
          .get(30, TimeUnit.SECONDS);
      throw new AssertionError("write " + clientSeq + " acknowledged with its mirror unreachable");
    } catch (ExecutionException e) {
      return String.valueOf(Failures.status(e.getCause()).getDescription());
    }
  }
}
