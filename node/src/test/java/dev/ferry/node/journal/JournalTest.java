package dev.ferry.node.journal;

import static dev.ferry.node.journal.Journals.appendAll;
import static dev.ferry.node.journal.Journals.assertSameRecords;
import static dev.ferry.node.journal.Journals.awaitAll;
import static dev.ferry.node.journal.Journals.options;
import static dev.ferry.node.journal.Journals.owned;
import static dev.ferry.node.journal.Journals.replay;
import static dev.ferry.node.journal.Journals.segmentFiles;
import static dev.ferry.node.journal.Journals.totalSize;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.node.journal.FaultyDisk.Gate;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Appending, group commit and faults. */
class JournalTest {
  @TempDir Path dir;

  @ParameterizedTest(name = "sync={0}")
  @ValueSource(booleans = {true, false})
  void replaysExactlyTheAppendedRecordsInOrder(boolean sync) throws IOException {
    List<JournalRecord> records = Journals.varied(300);
    JournalOptions options = options(64 << 10, sync, Disk.REAL);
    long used;
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAll(journal, records);
      used = journal.bytesUsed();
    }

    List<Path> files = segmentFiles(dir);
    assertThat(files).hasSizeGreaterThan(3);
    assertThat(used).isEqualTo(totalSize(files))
        .isEqualTo(files.size() * (long) Segment.HEADER_BYTES
            + records.stream().mapToLong(Journals::size).sum());
    assertSameRecords(replay(dir, options), records);
  }

  @Test
  void groupCommitForcesOncePerBatchAndAcknowledgesOnlyAfterTheForce() throws Exception {
    FaultyDisk disk = new FaultyDisk();
    try (Journal journal = Journal.open(dir, options(1 << 20, true, disk), r -> { });
        Gate forceMayFinish = new Gate()) {
      disk.beforeForce(forceMayFinish.holds());
      CompletableFuture<Void> first = journal.append(owned(0, 1));
      await().until(() -> disk.segmentForces() == 1);

      List<CompletableFuture<Void>> rest = appendConcurrently(journal, 4, 25);

      assertThat(first).isNotDone();
      assertThat(rest).noneMatch(CompletableFuture::isDone);
      forceMayFinish.open();
      awaitAll(rest);
      assertThat(first).isCompleted();
      // one force for the first record, one for the hundred queued behind it
      assertThat(disk.segmentForces()).isEqualTo(2);
    }
  }

  /** threads x perThread appends from several threads at once; returns when all are queued. */
  private static List<CompletableFuture<Void>> appendConcurrently(Journal journal, int threads,
      int perThread) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Callable<List<CompletableFuture<Void>>>> tasks = IntStream.range(0, threads)
          .<Callable<List<CompletableFuture<Void>>>>mapToObj(t -> () -> IntStream
              .range(0, perThread).mapToObj(i -> journal.append(owned(t * perThread + i, 1)))
              .toList())
          .toList();
      List<CompletableFuture<Void>> all = new ArrayList<>();
      for (Future<List<CompletableFuture<Void>>> f : pool.invokeAll(tasks)) {
        all.addAll(f.get());
      }
      return all;
    } finally {
      pool.shutdown();
    }
  }

  @Test
  void mirroredModeForcesOnlyTheSegmentsItCloses() throws IOException {
    FaultyDisk disk = new FaultyDisk();
    List<JournalRecord> records = IntStream.range(0, 50).mapToObj(i -> owned(i, 1)).toList();
    JournalOptions options = options(Journals.THREE_OWNED, false, disk);
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      appendAll(journal, records);
      assertThat(segmentFiles(dir)).hasSize(17);
      assertThat(disk.segmentForces()).isEqualTo(16);
    }
    assertSameRecords(replay(dir, options), records);
  }

  @Test
  void aFailedForceIsFatalAndNeverRetried() throws Exception {
    FaultyDisk disk = new FaultyDisk();
    AtomicInteger fatalCalls = new AtomicInteger();
    JournalOptions options =
        new JournalOptions(1 << 20, 1L << 30, true, disk, e -> fatalCalls.incrementAndGet());
    try (Journal journal = Journal.open(dir, options, r -> { }); Gate forceMayFail = new Gate()) {
      disk.beforeForce(file -> {
        forceMayFail.await();
        throw new IOException("injected EIO");
      });
      CompletableFuture<Void> forcing = journal.append(owned(0, 1));
      await().until(() -> disk.segmentForces() == 1);
      List<CompletableFuture<Void>> queued = List.of(journal.append(owned(1, 1)),
          journal.append(owned(2, 1)));
      forceMayFail.open();

      for (CompletableFuture<Void> f : concat(forcing, queued)) {
        assertThat(f).failsWithin(Duration.ofSeconds(5)).withThrowableThat()
            .havingCause().isInstanceOf(JournalFailedException.class)
            .withMessageContaining(segmentFiles(dir).get(0).toString())
            .withMessageContaining("injected EIO");
      }
      await().until(() -> fatalCalls.get() == 1);
      assertThat(journal.append(owned(3, 1))).isCompletedExceptionally()
          .failsWithin(Duration.ZERO).withThrowableThat()
          .havingCause().isInstanceOf(JournalFailedException.class);
      assertThatThrownBy(() -> journal.release(1)).isInstanceOf(JournalFailedException.class);
    }
    assertThat(fatalCalls).hasValue(1);
    assertThat(disk.segmentForces()).isEqualTo(1);
  }

  @Test
  void aFailedWriteIsFatalAndNothingIsForcedAfterIt() throws IOException {
    FaultyDisk disk = new FaultyDisk();
    AtomicInteger fatalCalls = new AtomicInteger();
    JournalOptions options =
        new JournalOptions(1 << 20, 1L << 30, true, disk, e -> fatalCalls.incrementAndGet());
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      disk.beforeWrite(file -> {
        throw new IOException("injected EIO");
      });
      assertThat(journal.append(owned(0, 1))).failsWithin(Duration.ofSeconds(5))
          .withThrowableThat().havingCause().isInstanceOf(JournalFailedException.class)
          .withMessageContaining("injected EIO");
      assertThat(journal.append(owned(1, 1))).isCompletedExceptionally();
    }
    assertThat(fatalCalls).hasValue(1);
    assertThat(disk.segmentForces()).isZero();
  }

  private static List<CompletableFuture<Void>> concat(CompletableFuture<Void> first,
      List<CompletableFuture<Void>> rest) {
    List<CompletableFuture<Void>> all = new ArrayList<>(rest.size() + 1);
    all.add(first);
    all.addAll(rest);
    return all;
  }
}
