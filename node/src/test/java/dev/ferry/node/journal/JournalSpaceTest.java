package dev.ferry.node.journal;

import static dev.ferry.node.journal.Journals.appendAll;
import static dev.ferry.node.journal.Journals.assertSameRecords;
import static dev.ferry.node.journal.Journals.awaitAll;
import static dev.ferry.node.journal.Journals.data;
import static dev.ferry.node.journal.Journals.options;
import static dev.ferry.node.journal.Journals.owned;
import static dev.ferry.node.journal.Journals.replay;
import static dev.ferry.node.journal.Journals.segmentFiles;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.node.journal.FaultyDisk.Gate;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Segment release and the byte budget. */
class JournalSpaceTest {
  private static final int RECORD = Journals.OWNED_BYTES;
  private static final long SEGMENT = Journals.THREE_OWNED;

  @TempDir Path dir;

  private Path segment(long firstRecord) {
    return Segment.named(dir, firstRecord).file;
  }

  private static List<JournalRecord> ownedInEpochs(long... epochs) {
    return IntStream.range(0, epochs.length).mapToObj(i -> owned(i, epochs[i])).toList();
  }

  @Test
  void releaseDeletesClosedSegmentsWhoseRecordsAreAllApplied() throws IOException {
    // segments: [1 1 1] [1 2 2] [2 3 3] [2 2 2] [1]; the last is active
    List<JournalRecord> records = ownedInEpochs(1, 1, 1, 1, 2, 2, 2, 3, 3, 2, 2, 2, 1);
    JournalOptions options = options(SEGMENT, true, Disk.REAL);
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAll(journal, records);
      assertThat(segmentFiles(dir)).hasSize(5);
      long before = journal.bytesUsed();

      long freed = journal.release(2);

      assertThat(freed).isEqualTo(3 * SEGMENT);
      assertThat(journal.bytesUsed()).isEqualTo(before - freed);
      assertThat(segmentFiles(dir)).containsExactly(segment(6), segment(12));

      journal.release(Long.MAX_VALUE);
      assertThat(segmentFiles(dir)).containsExactly(segment(12));
      assertThat(journal.bytesUsed()).isEqualTo(Segment.HEADER_BYTES + RECORD);
    }
    assertSameRecords(replay(dir, options), List.of(records.get(12)));
  }

  /** A forwarded copy with no number yet, then six records of epoch 1: two segments. */
  private void appendAPinnedForwardedCopy(Journal journal) throws IOException {
    journal.append(new JournalRecord(RecordType.FORWARDED, 0, "vol-a", 3, 0, "primary-1", 7777,
        8192, "node-2", data(7, 300)));
    appendAll(journal, ownedInEpochs(1, 1, 1, 1, 1, 1));
    journal.release(Long.MAX_VALUE);
    assertThat(segmentFiles(dir)).as("pinned by the copy").containsExactly(segment(0), segment(6));
  }

  @Test
  void aForwardedCopyPinsItsSegmentUntilSequencedThenCountsWithItsEpoch() throws IOException {
    JournalRecord sequenced = new JournalRecord(RecordType.SEQUENCED, 3, "vol-a", 3, 41,
        "primary-1", 7777, 8192, "node-2", new byte[0]);
    JournalOptions options = options(SEGMENT, true, Disk.REAL);
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAPinnedForwardedCopy(journal);
    }
    // the pin is rebuilt from the replay
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAll(journal, List.of(sequenced, owned(8, 1), owned(9, 1)));
      assertThat(segmentFiles(dir)).containsExactly(segment(0), segment(6), segment(9));

      journal.release(2);
      assertThat(segmentFiles(dir)).containsExactly(segment(0), segment(6), segment(9));
      journal.release(3);
      assertThat(segmentFiles(dir)).containsExactly(segment(9));
    }
  }

  @Test
  void aDroppedForwardedCopyNoLongerPinsItsSegmentAcrossARestart() throws IOException {
    JournalRecord dropped = new JournalRecord(RecordType.FORWARD_DROPPED, 0, "vol-a", 3, 0,
        "primary-1", 7777, 0, "", new byte[0]);
    JournalOptions options = options(SEGMENT, true, Disk.REAL);
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAPinnedForwardedCopy(journal);
      awaitAll(List.of(journal.append(dropped)));
      journal.release(1);
      assertThat(segmentFiles(dir)).as("the drop unpins it").containsExactly(segment(6));
    }
    // replayed: the drop is read back (the data plane forgets the copy), and pins nothing
    assertThat(replay(dir, options).stream().map(r -> r.type()).toList())
        .doesNotContain(RecordType.FORWARDED).endsWith(RecordType.FORWARD_DROPPED);
  }

  @Test
  void anAppendPastTheBudgetFailsAtOnceCountingQueuedBytesAndWritesNothing() throws Exception {
    long budget = SEGMENT + RECORD / 2;
    FaultyDisk disk = new FaultyDisk();
    JournalOptions options = new JournalOptions(SEGMENT, budget, true, disk, Journals.NOT_FATAL);
    List<JournalRecord> fitting = ownedInEpochs(1, 1, 1);
    try (Journal journal = Journal.open(dir, options, r -> { });
        Gate forceMayFinish = new Gate()) {
      disk.beforeForce(forceMayFinish.holds());
      CompletableFuture<Void> first = journal.append(fitting.get(0));
      Awaitility.await().until(() -> disk.segmentForces() == 1);
      // on disk: the header and one record; the next two only queued
      List<CompletableFuture<Void>> queued =
          List.of(journal.append(fitting.get(1)), journal.append(fitting.get(2)));

      CompletableFuture<Void> over = journal.append(owned(3, 1));

      assertThat(over).failsWithin(Duration.ZERO).withThrowableThat()
          .havingCause().isInstanceOf(JournalFullException.class)
          .withMessageContaining("budget of " + budget + " bytes");
      forceMayFinish.open();
      awaitAll(List.of(first, queued.get(0), queued.get(1)));
      assertThat(journal.bytesUsed()).isEqualTo(SEGMENT);
    }
    assertSameRecords(replay(dir, options), fitting);
  }

  @Test
  void aRecordLargerThanASegmentIsRefused() throws IOException {
    JournalRecord huge = new JournalRecord(RecordType.OWNED, 1, "vol-a", 0, 1, "primary-1", 1, 0,
        "node-2", new byte[(int) SEGMENT]);
    try (Journal journal = Journal.open(dir, options(SEGMENT, true, Disk.REAL), r -> { })) {
      assertThat(journal.append(huge)).failsWithin(Duration.ZERO).withThrowableThat()
          .havingCause().isInstanceOf(IllegalArgumentException.class)
          .withMessageContaining("does not fit in a journal segment of " + SEGMENT);
      assertThat(journal.bytesUsed()).isEqualTo(Segment.HEADER_BYTES);
    }
  }
}
