package dev.ferry.node.journal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.assertj.core.api.recursive.comparison.RecursiveComparisonConfiguration;

/** Records, options and checks shared by the journal tests. */
final class Journals {
  static final Consumer<Throwable> NOT_FATAL = e -> {
    throw new AssertionError("unexpected journal failure", e);
  };

  /** The size of every owned(i, epoch) record. */
  static final int OWNED_BYTES = size(owned(0, 1));
  /** A segment size that holds exactly three owned(i, epoch) records. */
  static final long THREE_OWNED = Segment.HEADER_BYTES + 3L * OWNED_BYTES;

  /** Byte arrays compared whole: element by element, recursive comparison is slow. */
  private static final RecursiveComparisonConfiguration BYTES_BY_CONTENT =
      RecursiveComparisonConfiguration.builder()
          .withComparatorForType(Arrays::compare, byte[].class).build();

  private Journals() {}

  /** An OWNED record, all of the same size, so that segment layouts are known. */
  static JournalRecord owned(int i, long epoch) {
    return new JournalRecord(RecordType.OWNED, epoch, "vol-a", i % 7, i, "primary-1", 1000 + i,
        i * 4096L, "node-2", data(i, 300));
  }

  /** Every type, odd strings, data from empty to a few KiB. */
  static List<JournalRecord> varied(int count) {
    RecordType[] types = RecordType.values();
    return IntStream.range(0, count).mapToObj(i -> {
      RecordType type = types[i % types.length];
      byte[] data = type == RecordType.SEQUENCED ? new byte[0] : data(i, (i * 97) % 3000);
      return new JournalRecord(type, type == RecordType.FORWARDED ? 0 : 1 + i / 50,
          i % 5 == 0 ? "volume-ü-" + i : "v" + (i % 3), i * 31, type == RecordType.FORWARDED ? 0 : i,
          "primary-" + (i % 4), Long.MAX_VALUE - i, i * 512L, i % 6 == 0 ? "" : "node-" + (i % 3),
          data);
    }).toList();
  }

  static byte[] data(int seed, int length) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return b;
  }

  static int size(JournalRecord r) {
    return RecordCodec.encode(r).remaining();
  }

  static JournalOptions options(long segmentBytes, boolean sync, Disk disk) {
    return new JournalOptions(segmentBytes, 1L << 30, sync, disk, NOT_FATAL);
  }

  /** Appends all and waits until every one is acknowledged. */
  static void appendAll(Journal journal, List<JournalRecord> records) {
    awaitAll(records.stream().map(journal::append).toList());
  }

  static void awaitAll(List<CompletableFuture<Void>> futures) {
    try {
      CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("appends did not all complete", e);
    }
  }

  /** Writes the records into a new journal in dir and closes it. */
  static void write(Path dir, JournalOptions options, List<JournalRecord> records)
      throws IOException {
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAll(journal, records);
    }
  }

  /** What a journal in dir replays, opening and closing it. */
  static List<JournalRecord> replay(Path dir, JournalOptions options) throws IOException {
    List<JournalRecord> replayed = new ArrayList<>();
    Journal.open(dir, options, replayed::add).close();
    return replayed;
  }

  /** Field by field, data bytes included, without relying on JournalRecord.equals. */
  static void assertSameRecords(List<JournalRecord> actual, List<JournalRecord> expected) {
    assertThat(actual).usingRecursiveFieldByFieldElementComparator(BYTES_BY_CONTENT)
        .containsExactlyElementsOf(expected);
  }

  static List<Path> segmentFiles(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> Segment.firstRecordOf(p).isPresent()).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static long totalSize(List<Path> files) {
    return files.stream().mapToLong(p -> {
      try {
        return Files.size(p);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }).sum();
  }

  /** Flips one bit of the byte at offset in file. */
  static void flipBit(Path file, long offset, int mask) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    bytes[(int) offset] ^= (byte) mask;
    Files.write(file, bytes);
  }

  static void appendBytes(Path file, byte[] bytes) throws IOException {
    Files.write(file, bytes, StandardOpenOption.APPEND);
  }
}
