package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterState;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.journal.Journal;
import dev.ferry.node.journal.JournalOptions;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every write row of DESIGN.md §9's error table: the status code, a message naming the field or
 * the cause, and nothing stored. The node is n1 of a two-member state whose other member is
 * unreachable, so nothing here depends on a peer.
 */
class WriteErrorsTest {
  private static final long REGION = 1 << 20;
  @TempDir Path dir;
  private Journal journal;
  private DataPlane data;
  private ClusterState state;
  private long emptyJournalBytes;

  @BeforeEach
  void start() throws Exception {
    state = TwoMembers.state(8 * REGION, REGION);
    journal = Journal.open(dir, new JournalOptions(64 << 10, 256 << 10, true, Disk.REAL,
        e -> { throw new AssertionError("fatal journal error in a test", e); }), r -> { });
    data = new DataPlane("n1", journal, () -> state, 64 << 10, List.of());
    data.freeze(0).get(10, TimeUnit.SECONDS); // as the coordinator would: now it may number
    emptyJournalBytes = journal.bytesUsed();
  }

  @AfterEach
  void stop() {
    data.close();
    journal.close();
  }

  private Status writeFails(String primary, String volume, long offset, byte[] bytes, int crc)
      throws Exception {
    CompletableFuture<SequenceNumber> f =
        data.write(primary, 1, volume, offset, ByteString.copyFrom(bytes), crc);
    try {
      f.get(10, TimeUnit.SECONDS);
      throw new AssertionError("the write was accepted");
    } catch (ExecutionException e) {
      return Failures.status(e.getCause());
    }
  }

  private Status writeFails(String volume, long offset, byte[] bytes) throws Exception {
    return writeFails("p", volume, offset, bytes, IngestProbe.crc(bytes));
  }

  private void assertNothingStored() throws Exception {
    assertThat(data.heldCount().get()).isZero();
    assertThat(journal.bytesUsed()).as("journal bytes").isEqualTo(emptyJournalBytes);
  }


  private long offsetOfRegionOwnedBy(String member) {
    return TwoMembers.regionOwnedBy(state, member) * REGION;
  }

  @Test
  void unknownVolume() throws Exception {
    Status s = writeFails("nope", 0, new byte[10]);
    assertThat(s.getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(s.getDescription()).isEqualTo("volume 'nope' does not exist");
    assertNothingStored();
  }

  @Test
  void offsetOrLengthOutsideTheVolume() throws Exception {
    Status past = writeFails("v", 8 * REGION - 5, new byte[10]);
    assertThat(past.getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
    assertThat(past.getDescription()).contains("offset " + (8 * REGION - 5)).contains("outside volume 'v'");
    Status negative = writeFails("v", -4096, new byte[10]);
    assertThat(negative.getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
    assertThat(negative.getDescription()).contains("offset -4096");
    assertNothingStored();
  }

  @Test
  void emptyAndOversizedWrites() throws Exception {
    Status empty = writeFails("v", 0, new byte[0]);
    assertThat(empty.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(empty.getDescription()).isEqualTo("data is empty");
    Status big = writeFails("v", 0, new byte[(64 << 10) + 1]);
    assertThat(big.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(big.getDescription()).contains("data is " + ((64 << 10) + 1) + " bytes");
    assertNothingStored();
  }

  @Test
  void aWriteAcrossARegionBoundary() throws Exception {
    Status s = writeFails("v", REGION - 4, new byte[8]);
    assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(s.getDescription()).contains("crosses the region boundary at " + REGION);
    assertNothingStored();
  }

  @Test
  void aMissingPrimaryId() throws Exception {
    Status s = writeFails("", "v", 0, new byte[8], IngestProbe.crc(new byte[8]));
    assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(s.getDescription()).isEqualTo("primary_id is empty");
    assertNothingStored();
  }

  @Test
  void aCrcThatDoesNotMatchThePayload() throws Exception {
    byte[] bytes = {1, 2, 3};
    Status s = writeFails("p", "v", 0, bytes, IngestProbe.crc(bytes) ^ 1);
    assertThat(s.getCode()).isEqualTo(Status.Code.DATA_LOSS);
    assertThat(s.getDescription()).contains("crc32c").contains("does not match the data");
    assertNothingStored();
  }

  @Test
  void theOwnerCannotBeReached() throws Exception {
    Status s = writeFails("v", offsetOfRegionOwnedBy("n2"), new byte[8]);
    assertThat(s.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void theJournalBudgetIsExhausted() throws Exception {
    long offset = offsetOfRegionOwnedBy("n1");
    byte[] block = new byte[60 << 10];
    Status s = null;
    for (int i = 0; i < 10 && s == null; i++) {
      CompletableFuture<SequenceNumber> f = data.write("p", 100 + i, "v", offset,
          ByteString.copyFrom(block), IngestProbe.crc(block));
      try {
        f.get(10, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        Status st = Failures.status(e.getCause());
        if (st.getCode() != Status.Code.UNAVAILABLE) { // the unreachable mirror fails the others
          s = st;
        }
      }
    }
    assertThat(s).as("a write past the budget").isNotNull();
    assertThat(s.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(s.getDescription()).contains("budget");
    assertThat(journal.bytesUsed()).isLessThanOrEqualTo(256 << 10);
  }
}
