package dev.ferry.node.journal;

import static dev.ferry.node.journal.Journals.options;
import static dev.ferry.node.journal.Journals.owned;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Payloads are read back from the journal (not kept in memory): a location from appendAt or
 * from the replay at open reads the same record, verified; a released segment or a damaged
 * record fails the read instead of returning wrong bytes.
 */
class JournalReadTest {
  @TempDir Path dir;

  @Test
  void readsBackWhatWasAppendedAcrossSegmentsAndAfterReopen() throws Exception {
    List<JournalRecord> records = Journals.varied(200);
    JournalOptions options = options(16 << 10, true, Disk.REAL);
    List<JournalLocation> at = new ArrayList<>();
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      List<CompletableFuture<JournalLocation>> written = new ArrayList<>();
      records.forEach(r -> written.add(journal.appendAt(r)));
      for (CompletableFuture<JournalLocation> f : written) {
        at.add(f.join());
      }
      assertThat(at.stream().map(JournalLocation::segment).distinct().count()).isGreaterThan(3);
      for (int i = 0; i < records.size(); i++) {
        assertThat(journal.read(at.get(i))).isEqualTo(records.get(i));
      }
    }
    List<StoredRecord> replayed = new ArrayList<>();
    try (Journal journal = Journal.openAt(dir, options, replayed::add)) {
      assertThat(replayed).extracting(StoredRecord::at).isEqualTo(at);
      for (StoredRecord r : replayed) {
        assertThat(journal.read(r.at())).isEqualTo(r.record());
      }
    }
  }

  @Test
  void aReleasedSegmentOrADamagedRecordFailsTheRead() throws Exception {
    JournalOptions options = options(Journals.THREE_OWNED, true, Disk.REAL);
    try (Journal journal = Journal.open(dir, options, r -> { })) {
      JournalLocation first = journal.appendAt(owned(0, 1)).join();
      journal.read(first); // opens a read channel, which the release must close
      JournalLocation second = journal.appendAt(owned(1, 1)).join();
      JournalLocation third = journal.appendAt(owned(2, 1)).join();
      JournalLocation later = journal.appendAt(owned(3, 2)).join(); // next segment
      assertThat(later.segment()).isNotEqualTo(first.segment());
      assertThat(journal.release(1)).isPositive();
      assertThatThrownBy(() -> journal.read(first)).isInstanceOf(IOException.class);
      assertThat(journal.read(later)).isEqualTo(owned(3, 2));

      JournalLocation next = journal.appendAt(owned(4, 2)).join();
      Journals.flipBit(next.segment(), next.position() + next.size() - 1, 0x01);
      assertThatThrownBy(() -> journal.read(next)).isInstanceOf(IOException.class)
          .hasMessageContaining("corrupt journal").hasMessageContaining("does not verify");
      assertThat(second.segment()).isEqualTo(third.segment());
    }
  }
}
