package dev.ferry.node.journal;

import static dev.ferry.node.journal.Journals.OWNED_BYTES;
import static dev.ferry.node.journal.Journals.THREE_OWNED;
import static dev.ferry.node.journal.Journals.appendAll;
import static dev.ferry.node.journal.Journals.assertSameRecords;
import static dev.ferry.node.journal.Journals.owned;
import static dev.ferry.node.journal.Journals.replay;
import static dev.ferry.node.journal.Journals.segmentFiles;
import static dev.ferry.node.journal.Journals.totalSize;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.node.journal.FaultyDisk.Gate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A full disk (ENOSPC) under the journal: the appends it hits fail with
 * JournalDiskFullException, nothing of them stays in the segment, the journal keeps running and
 * writes again once there is space; a failed force stays fatal, ENOSPC or not.
 */
class JournalDiskFullTest {
  @TempDir Path dir;

  private final AtomicInteger fatalCalls = new AtomicInteger();

  private JournalOptions options(long segmentBytes, boolean sync, Disk disk) {
    return new JournalOptions(segmentBytes, 1L << 30, sync, disk,
        e -> fatalCalls.incrementAndGet());
  }

  @ParameterizedTest(name = "sync={0}")
  @ValueSource(booleans = {true, false})
  void aFullDiskRefusesTheBatchCutsItOffAndLaterAppendsSucceed(boolean sync) throws Exception {
    FaultyDisk disk = new FaultyDisk();
    JournalOptions options = options(1 << 20, sync, disk);
    List<JournalRecord> kept = new ArrayList<>();
    try (Journal journal = Journal.open(dir, options, r -> { });
        Gate writerMayGo = new Gate()) {
      List<JournalRecord> before = IntStream.range(0, 5).mapToObj(i -> owned(i, 1)).toList();
      appendAll(journal, before);
      kept.addAll(before);

      // a batch of one (it holds the writer) that fits, then a batch of three of which the disk
      // takes half a record: a short write, then ENOSPC
      CountDownLatch writing = new CountDownLatch(1);
      disk.beforeWrite(file -> {
        writing.countDown();
        writerMayGo.await();
      });
      CompletableFuture<Void> first = journal.append(owned(5, 1));
      assertThat(writing.await(5, TimeUnit.SECONDS)).isTrue();
      List<CompletableFuture<Void>> queued = IntStream.range(6, 9)
          .mapToObj(i -> journal.append(owned(i, 1))).toList();
      disk.spaceLeft(OWNED_BYTES + OWNED_BYTES / 2);
      writerMayGo.open();
      assertThat(first).succeedsWithin(Duration.ofSeconds(5));
      kept.add(owned(5, 1));
      long goodLength = Segment.HEADER_BYTES + 6L * OWNED_BYTES;
      long usedBefore = goodLength;

      for (CompletableFuture<Void> f : queued) {
        assertThat(f).failsWithin(Duration.ofSeconds(5)).withThrowableThat()
            .havingCause().isInstanceOf(JournalDiskFullException.class)
            .isInstanceOf(JournalFullException.class) // so the data path answers RESOURCE_EXHAUSTED
            .withMessage("journal disk full: " + dir + " (No space left on device)");
      }
      assertThat(Files.size(segmentFiles(dir).get(0))).as("cut back to the last good record")
          .isEqualTo(goodLength);
      assertThat(journal.bytesUsed()).isEqualTo(usedBefore);

      // still full: each later append is tried, and refused
      assertThat(journal.append(owned(9, 1))).failsWithin(Duration.ofSeconds(5))
          .withThrowableThat().havingCause().isInstanceOf(JournalDiskFullException.class);

      // space returns: appends go through again, in the same segment, after the good records
      disk.spaceLeft(Long.MAX_VALUE);
      List<JournalRecord> after = IntStream.range(10, 14).mapToObj(i -> owned(i, 2)).toList();
      appendAll(journal, after);
      kept.addAll(after);
      assertThat(journal.bytesUsed()).isEqualTo(totalSize(segmentFiles(dir)));
    }
    assertThat(fatalCalls).hasValue(0);
    assertThat(segmentFiles(dir)).hasSize(1);
    // nothing torn, nothing corrupt, nothing of the refused appends
    assertSameRecords(replay(dir, options(1 << 20, sync, Disk.REAL)), kept);
  }

  @Test
  void aFullDiskLeavesNothingToRecoverWhenTheNodeStopsBeforeSpaceReturns() throws Exception {
    FaultyDisk disk = new FaultyDisk();
    JournalOptions options = options(1 << 20, true, disk);
    List<JournalRecord> before = IntStream.range(0, 3).mapToObj(i -> owned(i, 1)).toList();
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAll(journal, before);
      disk.spaceLeft(OWNED_BYTES / 3);
      assertThat(journal.append(owned(3, 1))).failsWithin(Duration.ofSeconds(5))
          .withThrowableThat().havingCause().isInstanceOf(JournalDiskFullException.class);
    }
    assertThat(fatalCalls).hasValue(0);
    assertThat(totalSize(segmentFiles(dir)))
        .isEqualTo(Segment.HEADER_BYTES + 3L * OWNED_BYTES);
    assertSameRecords(replay(dir, options(1 << 20, true, Disk.REAL)), before);
  }

  @Test
  void aFullDiskWhileCreatingASegmentIsRetriedWithTheNextAppend() throws Exception {
    FaultyDisk disk = new FaultyDisk();
    JournalOptions options = options(THREE_OWNED, true, disk);
    List<JournalRecord> kept = new ArrayList<>();
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      List<JournalRecord> first = IntStream.range(0, 3).mapToObj(i -> owned(i, 1)).toList();
      appendAll(journal, first); // the first segment is full
      kept.addAll(first);
      long used = journal.bytesUsed();

      disk.spaceLeft(Segment.HEADER_BYTES / 2); // not even the next segment's header fits
      for (int i = 3; i < 5; i++) {
        assertThat(journal.append(owned(i, 1))).failsWithin(Duration.ofSeconds(5))
            .withThrowableThat().havingCause().isInstanceOf(JournalDiskFullException.class)
            .withMessageContaining("journal disk full: " + dir);
        assertThat(segmentFiles(dir)).as("the half-made segment is deleted again").hasSize(1);
      }
      assertThat(journal.bytesUsed()).isEqualTo(used);

      disk.spaceLeft(Long.MAX_VALUE);
      List<JournalRecord> later = IntStream.range(5, 9).mapToObj(i -> owned(i, 2)).toList();
      appendAll(journal, later);
      kept.addAll(later);
      assertThat(segmentFiles(dir)).hasSize(3);
      assertThat(journal.bytesUsed()).isEqualTo(totalSize(segmentFiles(dir)));
    }
    assertThat(fatalCalls).hasValue(0);
    assertSameRecords(replay(dir, options(THREE_OWNED, true, Disk.REAL)), kept);
  }

  @Test
  void aBatchThatRollsKeepsTheRecordsOfTheSegmentItClosed() throws Exception {
    FaultyDisk disk = new FaultyDisk();
    JournalOptions options = options(THREE_OWNED, true, disk);
    List<JournalRecord> kept = new ArrayList<>();
    try (Journal journal = Journal.open(dir, options, r -> { }); Gate writerMayGo = new Gate()) {
      appendAll(journal, List.of(owned(0, 1)));
      kept.add(owned(0, 1));
      CountDownLatch writing = new CountDownLatch(1);
      disk.beforeWrite(file -> {
        writing.countDown();
        writerMayGo.await();
      });
      CompletableFuture<Void> holder = journal.append(owned(1, 1)); // holds the writer
      assertThat(writing.await(5, TimeUnit.SECONDS)).isTrue();
      // the next batch, 2..4: 2 completes the first segment, 3 and 4 go to a new one
      List<CompletableFuture<Void>> rest = IntStream.range(2, 5)
          .mapToObj(i -> journal.append(owned(i, 1))).toList();
      // room for records 1 and 2 and the next header, not for record 3
      disk.spaceLeft(2L * OWNED_BYTES + Segment.HEADER_BYTES + 10);
      writerMayGo.open();

      assertThat(holder).succeedsWithin(Duration.ofSeconds(5));
      assertThat(rest.get(0)).succeedsWithin(Duration.ofSeconds(5));
      kept.add(owned(1, 1));
      kept.add(owned(2, 1));
      for (CompletableFuture<Void> f : rest.subList(1, 3)) {
        assertThat(f).failsWithin(Duration.ofSeconds(5)).withThrowableThat()
            .havingCause().isInstanceOf(JournalDiskFullException.class);
      }
      disk.spaceLeft(Long.MAX_VALUE);
      appendAll(journal, List.of(owned(5, 2)));
      kept.add(owned(5, 2));
    }
    assertThat(fatalCalls).hasValue(0);
    assertSameRecords(replay(dir, options(THREE_OWNED, true, Disk.REAL)), kept);
  }

  @Test
  void aForceThatReportsENOSPCIsStillFatalAndNeverRetried() throws Exception {
    FaultyDisk disk = new FaultyDisk();
    JournalOptions options = options(1 << 20, true, disk);
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAll(journal, List.of(owned(0, 1)));
      int forces = disk.segmentForces();
      disk.beforeForce(file -> {
        throw new IOException("No space left on device");
      });
      assertThat(journal.append(owned(1, 1))).failsWithin(Duration.ofSeconds(5))
          .withThrowableThat().havingCause().isInstanceOf(JournalFailedException.class)
          .withMessageContaining("No space left on device");
      await().until(() -> fatalCalls.get() == 1);
      disk.beforeForce(file -> { });
      assertThat(journal.append(owned(2, 1))).failsWithin(Duration.ofSeconds(5))
          .withThrowableThat().havingCause().isInstanceOf(JournalFailedException.class);
      assertThat(disk.segmentForces()).as("never forced again").isEqualTo(forces + 1);
    }
    assertThat(fatalCalls).hasValue(1);
  }

  @Test
  void aWriteErrorOtherThanENOSPCIsStillFatal() throws Exception {
    FaultyDisk disk = new FaultyDisk();
    try (Journal journal = Journal.open(dir, options(1 << 20, true, disk), r -> { })) {
      disk.beforeWrite(file -> {
        throw new IOException("Input/output error");
      });
      assertThat(journal.append(owned(0, 1))).failsWithin(Duration.ofSeconds(5))
          .withThrowableThat().havingCause().isInstanceOf(JournalFailedException.class);
      disk.beforeWrite(file -> { });
      assertThat(journal.append(owned(1, 1))).failsWithin(Duration.ofSeconds(5))
          .withThrowableThat().havingCause().isInstanceOf(JournalFailedException.class);
    }
    assertThat(fatalCalls).hasValue(1);
  }

  @Test
  void refusedAppendsGiveTheirBudgetBack() throws Exception {
    FaultyDisk disk = new FaultyDisk();
    // a budget of 2 segments: 20 refused records would exhaust it if their claims stayed
    long segment = Segment.HEADER_BYTES + 8L * OWNED_BYTES;
    JournalOptions options = new JournalOptions(segment, 2 * segment, true, disk,
        e -> fatalCalls.incrementAndGet());
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      disk.spaceLeft(0);
      for (int i = 0; i < 20; i++) {
        assertThat(journal.append(owned(i, 1))).failsWithin(Duration.ofSeconds(5))
            .withThrowableThat().havingCause().isInstanceOf(JournalDiskFullException.class);
      }
      disk.spaceLeft(Long.MAX_VALUE);
      appendAll(journal, IntStream.range(20, 28).mapToObj(i -> owned(i, 1)).toList());
    }
    assertThat(fatalCalls).hasValue(0);
  }

}
