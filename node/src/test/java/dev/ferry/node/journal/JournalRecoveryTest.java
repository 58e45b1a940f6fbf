package dev.ferry.node.journal;

import static dev.ferry.node.journal.Journals.appendAll;
import static dev.ferry.node.journal.Journals.appendBytes;
import static dev.ferry.node.journal.Journals.assertSameRecords;
import static dev.ferry.node.journal.Journals.awaitAll;
import static dev.ferry.node.journal.Journals.flipBit;
import static dev.ferry.node.journal.Journals.options;
import static dev.ferry.node.journal.Journals.owned;
import static dev.ferry.node.journal.Journals.replay;
import static dev.ferry.node.journal.Journals.segmentFiles;
import static dev.ferry.node.journal.Journals.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.node.journal.FaultyDisk.Gate;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.stream.IntStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Reopening after a crash or damage. */
class JournalRecoveryTest {
  private static final int RECORD = Journals.OWNED_BYTES;
  private static final long SMALL_SEGMENT = Journals.THREE_OWNED;
  /** Twelve records in four small segments: 0-2, 3-5, 6-8, 9-11. */
  private static final List<JournalRecord> RECORDS =
      IntStream.range(0, 12).mapToObj(i -> owned(i, 1)).toList();
  private static final JournalOptions SMALL = options(SMALL_SEGMENT, true, Disk.REAL);
  private static final JournalOptions ONE_SEGMENT = options(1 << 20, true, Disk.REAL);

  @TempDir Path dir;

  /** Byte offset of the record with this index within its segment. */
  private static long offsetInSegment(int indexInSegment) {
    return Segment.HEADER_BYTES + (long) indexInSegment * RECORD;
  }

  private Path lastSegment() {
    List<Path> files = segmentFiles(dir);
    return files.get(files.size() - 1);
  }

  private static void truncate(Path file, long size) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(size);
    }
  }

  /**
   * Cuts the last segment (records 9, 10, 11) so that it keeps whole records and then
   * {@code into} bytes of the next; negative: inside the segment header.
   */
  @ParameterizedTest(name = "{0} whole records, then {1} bytes")
  @CsvSource({"2,1", "2,7", "2,8", "2,12", "2,40", "2,378", "1,100", "0,1", "0,-5", "0,-8"})
  void aTornTailIsCutAndAppendingContinuesAfterIt(int kept, int into) throws IOException {
    write(dir, SMALL, RECORDS);
    truncate(lastSegment(), offsetInSegment(kept) + into);
    List<JournalRecord> complete = RECORDS.subList(0, 9 + kept);

    List<JournalRecord> replayed = new ArrayList<>();
    List<JournalRecord> expected = new ArrayList<>(complete);
    try (Journal journal = Journal.open(dir, SMALL, replayed::add)) {
      assertSameRecords(replayed, complete);
      assertThat(journal.bytesUsed()).isEqualTo(3 * SMALL_SEGMENT + offsetInSegment(kept));
      JournalRecord after = owned(99, 2);
      appendAll(journal, List.of(after));
      expected.add(after);
    }
    assertSameRecords(replay(dir, SMALL), expected);
  }

  @Test
  void trailingZeroBytesAreCut() throws IOException {
    write(dir, SMALL, RECORDS);
    long size = Files.size(lastSegment());
    appendBytes(lastSegment(), new byte[4096]);

    assertSameRecords(replay(dir, SMALL), RECORDS);
    assertThat(Files.size(lastSegment())).isEqualTo(size);
  }

  @Test
  void aLastRecordZeroedFromItsMiddleOnIsCut() throws IOException {
    write(dir, SMALL, RECORDS);
    Path last = lastSegment();
    truncate(last, offsetInSegment(2) + RECORD / 2);
    appendBytes(last, new byte[RECORD]);

    assertSameRecords(replay(dir, SMALL), RECORDS.subList(0, 11));
  }

  @Test
  void aFinalRecordFailingItsCrcAtTheEndOfTheFileIsCut() throws IOException {
    write(dir, SMALL, RECORDS);
    flipBit(lastSegment(), offsetInSegment(3) - 1, 0x10);

    assertSameRecords(replay(dir, SMALL), RECORDS.subList(0, 11));
    assertThat(Files.size(lastSegment())).isEqualTo(offsetInSegment(2));
  }

  /** A bit flipped in record 4 of 9 in a single segment: magic, length, CRC, fields, data. */
  @ParameterizedTest(name = "byte {0} mask {1}")
  @CsvSource({"0,1", "4,1", "4,128", "7,4", "9,2", "12,1", "30,64", "60,8", "378,1"})
  void aFlippedBitBeforeTheEndIsCorruptionNamingFileAndOffset(int byteInRecord, int mask)
      throws IOException {
    write(dir, ONE_SEGMENT, RECORDS.subList(0, 9));
    Path file = lastSegment();
    long size = Files.size(file);
    flipBit(file, offsetInSegment(4) + byteInRecord, mask);

    assertThatThrownBy(() -> replay(dir, ONE_SEGMENT)).isInstanceOf(IOException.class)
        .hasMessageStartingWith("corrupt journal " + file + " at offset " + offsetInSegment(4)
            + ": ");
    assertThat(Files.size(file)).isEqualTo(size);
  }

  @Test
  void aFlippedBitInTheLastRecordOfAnEarlierSegmentIsCorruption() throws IOException {
    write(dir, SMALL, RECORDS);
    Path first = segmentFiles(dir).get(0);
    flipBit(first, offsetInSegment(3) - 1, 0x01);

    assertThatThrownBy(() -> replay(dir, SMALL))
        .hasMessage("corrupt journal " + first + " at offset " + offsetInSegment(2)
            + ": CRC32C mismatch");
  }

  @Test
  void aTruncatedEarlierSegmentIsCorruptionNotATornTail() throws IOException {
    write(dir, SMALL, RECORDS);
    Path second = segmentFiles(dir).get(1);
    truncate(second, offsetInSegment(2) + 10);

    assertThatThrownBy(() -> replay(dir, SMALL))
        .hasMessageStartingWith("corrupt journal " + second + " at offset " + offsetInSegment(2)
            + ": record of " + RECORD + " bytes but the file ends after 10");
  }

  @Test
  void garbageAfterTheLastRecordIsCorruption() throws IOException {
    write(dir, SMALL, RECORDS);
    Path last = lastSegment();
    appendBytes(last, "not a journal record".getBytes(StandardCharsets.UTF_8));

    assertThatThrownBy(() -> replay(dir, SMALL))
        .hasMessageStartingWith("corrupt journal " + last + " at offset " + offsetInSegment(3)
            + ": bad record magic");
  }

  /**
   * A crash while a batch is half written: the copy taken then (what the disk could hold) replays
   * every acknowledged record, and after them only a prefix of the unacknowledged ones.
   */
  @ParameterizedTest(name = "sync={0}")
  @ValueSource(booleans = {true, false})
  void recoveryKeepsEveryAcknowledgedRecord(boolean sync) throws Exception {
    FaultyDisk disk = new FaultyDisk();
    JournalOptions options = new JournalOptions(1 << 20, 1L << 30, sync, disk, e -> { });
    List<JournalRecord> all = IntStream.range(0, 40).mapToObj(i -> owned(i, 1)).toList();
    Path copy = dir.resolveSibling(dir.getFileName() + "-after-crash");
    CountDownLatch writerHeld = new CountDownLatch(1);
    try (Journal journal = Journal.open(dir, options, r -> { });
        Gate writerMayGo = new Gate(); Gate crashed = new Gate()) {
      appendAll(journal, all.subList(0, 10));
      // hold the writer on record 10 so that the other 29 queue up into one batch
      disk.beforeWrite(file -> {
        if (writerHeld.getCount() > 0) {
          writerHeld.countDown();
          writerMayGo.await();
        }
      });
      CompletableFuture<Void> lastAcknowledged = journal.append(all.get(10));
      Awaitility.await().until(() -> writerHeld.getCount() == 0);
      List<CompletableFuture<Void>> unacknowledged =
          all.subList(11, 40).stream().map(journal::append).toList();
      CountDownLatch stuck = disk.tearNextWrite(2, crashed);
      writerMayGo.open();
      awaitAll(List.of(lastAcknowledged));
      Awaitility.await().until(() -> stuck.getCount() == 0);

      Files.createDirectories(copy);
      for (Path file : segmentFiles(dir)) {
        Files.copy(file, copy.resolve(file.getFileName()));
      }
      assertThat(unacknowledged).noneMatch(CompletableFuture::isDone);
      crashed.open();
    }

    List<JournalRecord> recovered = replay(copy, options(1 << 20, sync, Disk.REAL));
    assertThat(recovered.size()).isBetween(11, 39);
    assertSameRecords(recovered, all.subList(0, recovered.size()));
  }
}
