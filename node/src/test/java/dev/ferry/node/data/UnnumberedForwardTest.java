package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterState;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.journal.Journal;
import dev.ferry.node.journal.JournalOptions;
import dev.ferry.node.journal.JournalRecord;
import dev.ferry.node.journal.RecordType;
import dev.ferry.node.journal.StoredRecord;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Forwarded copies that never got their number are dropped, in memory and in the journal (a
 * FORWARD_DROPPED record): one left behind pins its whole journal segment for good, and the
 * journal of a node that forwards through many faults fills its disk (seen in the soak: 240 MB of
 * a 256 MB tmpfs, then every write to the node refused). n1 of a two-member state whose owner
 * n2 is unreachable, so each forward fails.
 */
class UnnumberedForwardTest {
  private static final long REGION = 1 << 20;
  @TempDir Path dir;

  private static JournalOptions options() {
    return new JournalOptions(1 << 20, 64 << 20, true, Disk.REAL, e -> { });
  }

  private static List<RecordType> typesIn(Path dir) throws Exception {
    List<RecordType> types = new ArrayList<>();
    Journal.openAt(dir, options(), r -> types.add(r.record().type())).close();
    return types;
  }

  @Test
  void aForwardThatFailsDropsItsCopyAndJournalsTheDrop() throws Exception {
    ClusterState state = TwoMembers.state(8 * REGION, REGION);
    long offset = TwoMembers.regionOwnedBy(state, "n2") * REGION;
    byte[] block = new byte[4096];
    try (Journal journal = Journal.open(dir, options(), r -> { })) {
      DataPlane data = new DataPlane("n1", journal, () -> state, 64 << 10, List.of());
      try {
        data.freeze(0).get(10, TimeUnit.SECONDS);
        CompletableFuture<SequenceNumber> w = data.write("p", 7, "v", offset,
            ByteString.copyFrom(block), IngestProbe.crc(block));
        assertThat(w).failsWithin(Duration.ofSeconds(20)); // n2 never answers
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
            .until(() -> data.describe("p", 7).get() == null);
      } finally {
        data.close();
      }
    }
    assertThat(typesIn(dir)).containsExactly(RecordType.FORWARDED, RecordType.FORWARD_DROPPED);
  }

  @Test
  void aForwardedCopyReplayedWithoutItsNumberIsDroppedAtStart() throws Exception {
    ClusterState state = TwoMembers.state(8 * REGION, REGION);
    JournalRecord unnumbered = new JournalRecord(RecordType.FORWARDED, 0, "v", 1, 0, "p", 8,
        REGION, "n2", new byte[4096]);
    JournalRecord numbered = new JournalRecord(RecordType.FORWARDED, 0, "v", 1, 0, "p", 9,
        REGION + 4096, "n2", new byte[4096]);
    JournalRecord itsNumber = new JournalRecord(RecordType.SEQUENCED, 3, "v", 1, 5, "p", 9, 0,
        "n2", new byte[0]);
    try (Journal journal = Journal.open(dir, options(), r -> { })) {
      for (JournalRecord r : List.of(unnumbered, numbered, itsNumber)) {
        journal.append(r).get(10, TimeUnit.SECONDS);
      }
    }
    List<StoredRecord> replayed = new ArrayList<>();
    try (Journal journal = Journal.openAt(dir, options(), replayed::add)) {
      DataPlane data = new DataPlane("n1", journal, () -> state, 64 << 10, replayed);
      try {
        assertThat(data.describe("p", 8).get(10, TimeUnit.SECONDS)).isNull();
        assertThat(data.describe("p", 9).get(10, TimeUnit.SECONDS)).startsWith("FORWARDED 3 5 n2");
      } finally {
        data.close();
      }
    }
    assertThat(typesIn(dir)).containsExactly(RecordType.FORWARDED, RecordType.FORWARDED,
        RecordType.SEQUENCED, RecordType.FORWARD_DROPPED);
    // replayed again, the drop is honoured: nothing new is journaled
    List<StoredRecord> again = new ArrayList<>();
    try (Journal journal = Journal.openAt(dir, options(), again::add)) {
      DataPlane data = new DataPlane("n1", journal, () -> state, 64 << 10, again);
      try {
        assertThat(data.describe("p", 8).get(10, TimeUnit.SECONDS)).isNull();
      } finally {
        data.close();
      }
    }
    assertThat(typesIn(dir)).hasSize(4);
  }
}
