package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.ferry.control.ClusterState;
import dev.ferry.node.journal.FaultyDisk;
import dev.ferry.node.journal.Journal;
import dev.ferry.node.journal.JournalOptions;
import dev.ferry.proto.control.Watermark;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full journal disk on the owner: its writes are refused with RESOURCE_EXHAUSTED naming the
 * journal directory, the node keeps running, an update whose own copy was refused is not in
 * the epoch's watermark (nobody may be asked to ship it), and writes succeed once space
 * returns. n1 of a two-member state whose mirror n2 is unreachable: only the owner's own copy
 * matters here.
 */
class DiskFullWriteTest {
  private static final long REGION = 1 << 20;
  @TempDir Path dir;
  private final FaultyDisk disk = new FaultyDisk();
  private final AtomicInteger fatal = new AtomicInteger();
  private Journal journal;
  private DataPlane data;
  private ClusterState state;
  private long offset;

  @BeforeEach
  void start() throws Exception {
    state = TwoMembers.state(8 * REGION, REGION);
    journal = Journal.open(dir, new JournalOptions(1 << 20, 64 << 20, true, disk,
        e -> fatal.incrementAndGet()), r -> { });
    data = new DataPlane("n1", journal, () -> state, 64 << 10, List.of());
    data.freeze(0).get(10, TimeUnit.SECONDS); // as the coordinator would: now it may number
    offset = TwoMembers.regionOwnedBy(state, "n1") * REGION;
  }

  @AfterEach
  void stop() {
    data.close();
    journal.close();
  }

  /** The write's final status (the unreachable mirror fails every write in the end). */
  private Status write(long clientSeq) throws Exception {
    byte[] block = new byte[4096];
    CompletableFuture<SequenceNumber> f = data.write("p", clientSeq, "v", offset,
        ByteString.copyFrom(block), IngestProbe.crc(block));
    try {
      f.get(10, TimeUnit.SECONDS);
      return Status.OK;
    } catch (ExecutionException e) {
      return Failures.status(e.getCause());
    }
  }

  @Test
  void writesAreRefusedWhileTheDiskIsFullAndLeaveNothingInTheWatermark() throws Exception {
    disk.spaceLeft(0);
    Status refused = null;
    for (int i = 0; i < 20 && refused == null; i++) {
      Status s = write(100 + i);
      if (s.getCode() != Status.Code.UNAVAILABLE) { // the mirror may lose the race to fail it
        refused = s;
      }
    }
    assertThat(refused).as("a write refused by the full disk").isNotNull();
    assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(refused.getDescription())
        .contains("journal disk full: " + dir + " (No space left on device)");

    disk.spaceLeft(Long.MAX_VALUE);
    write(200); // own copy durable; the mirror is unreachable, so it is not acknowledged
    assertThat(fatal).hasValue(0);

    data.freeze(1).get(10, TimeUnit.SECONDS);
    data.thaw(1).get(10, TimeUnit.SECONDS);
    List<Watermark> sealed = data.seal(1).get(10, TimeUnit.SECONDS);
    assertThat(sealed).hasSize(1);
    assertThat(sealed.get(0).getCount()).as("only the update whose copy exists here")
        .isEqualTo(1);
  }

  @Test
  void aRetryOfAWriteWhoseForwardedCopyWasRefusedStoresItAgain() throws Exception {
    // n1 forwards writes of n2's portions; its own FORWARDED copy is refused, then space returns
    long forwarded = TwoMembers.regionOwnedBy(state, "n2") * REGION;
    byte[] block = new byte[4096];
    disk.spaceLeft(0);
    CompletableFuture<SequenceNumber> first = data.write("p", 7, "v", forwarded,
        ByteString.copyFrom(block), IngestProbe.crc(block));
    assertThat(first).failsWithin(java.time.Duration.ofSeconds(10));
    long before = journal.bytesUsed();
    disk.spaceLeft(Long.MAX_VALUE);
    CompletableFuture<SequenceNumber> retry = data.write("p", 7, "v", forwarded,
        ByteString.copyFrom(block), IngestProbe.crc(block));
    assertThat(retry).failsWithin(java.time.Duration.ofSeconds(10)); // n2 is unreachable
    assertThat(journal.bytesUsed()).as("the retry journaled its copy").isGreaterThan(before);
    // its forward failed too, unnumbered: the copy is dropped again (UnnumberedForwardTest)
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> data.describe("p", 7).get() == null);
  }

  /**
   * A retry of an owned write whose own copy the full disk refused is numbered anew once there
   * is space, and stored: before, it got the refusal again for as long as the primary retried
   * (30 s with PrimaryClient), so a dependent chain stood still long after the disk had room.
   */
  @Test
  void aRetryOfAnOwnedWriteWhoseOwnCopyWasRefusedIsNumberedAgainAndStored() throws Exception {
    disk.spaceLeft(0);
    assertThat(write(9).getCode()).isIn(Status.Code.RESOURCE_EXHAUSTED, Status.Code.UNAVAILABLE);
    String refused = data.describe("p", 9).get(10, TimeUnit.SECONDS);
    assertThat(refused).startsWith("OWNED ").endsWith(" pending");
    disk.spaceLeft(Long.MAX_VALUE);
    // the client's retries (the mirror is unreachable, so each retry fails in the end too)
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() -> {
      write(9);
      return data.describe("p", 9).get(10, TimeUnit.SECONDS).endsWith(" durable");
    });
    String stored = data.describe("p", 9).get(10, TimeUnit.SECONDS);
    assertThat(stored).startsWith("OWNED ");
    assertThat(numberOf(stored)).as("%s after %s", stored, refused).isGreaterThan(numberOf(refused));
    assertThat(fatal).hasValue(0);
  }

  /**
   * The mirror's side of it: a copy from the same owner with a higher number replaces the one
   * held (a retry numbered anew); a lower one is a late, superseded attempt and changes nothing.
   */
  @Test
  void aMirrorKeepsTheCopyWithTheOwnersHighestNumber() throws Exception {
    int region = TwoMembers.regionOwnedBy(state, "n2"); // n1 mirrors n2's portions
    long epoch = state.openEpoch();
    byte[] bytes = {7};
    for (long n : new long[] {3, 5, 4}) {
      data.acceptMirror(dev.ferry.proto.peer.MirrorRequest.newBuilder()
          .setAssignmentVersion(state.assignmentVersion()).setSender("n2").setId(n)
          .setUpdate(dev.ferry.proto.peer.Update.newBuilder().setPrimaryId("p").setClientSeq(11)
              .setVolume("v").setRegion(region).setOffset(region * REGION)
              .setData(ByteString.copyFrom(bytes)).setCrc32C(IngestProbe.crc(bytes))
              .setEpoch(epoch).setN(n)).build()).get(10, TimeUnit.SECONDS);
    }
    assertThat(data.describe("p", 11).get(10, TimeUnit.SECONDS))
        .isEqualTo("MIRROR " + epoch + " 5 n2 durable");
  }

  /** n of a {@code describe} line: "ROLE epoch n peers state". */
  private static long numberOf(String described) {
    return Long.parseLong(described.split(" ")[2]);
  }

  /**
   * The owner's side of a forwarded write whose own copy the full disk refused: the forwarder's
   * retry is numbered anew and stored once there is space (it got the refusal again before).
   */
  @Test
  void aRetriedForwardWhoseOwnCopyWasRefusedIsNumberedAgainAndStored() throws Exception {
    int region = TwoMembers.regionOwnedBy(state, "n1");
    byte[] bytes = {9};
    dev.ferry.proto.peer.ForwardRequest forward = dev.ferry.proto.peer.ForwardRequest.newBuilder()
        .setAssignmentVersion(state.assignmentVersion()).setSender("n2").setId(1)
        .setUpdate(dev.ferry.proto.peer.Update.newBuilder().setPrimaryId("p").setClientSeq(13)
            .setVolume("v").setRegion(region).setOffset(region * REGION)
            .setData(ByteString.copyFrom(bytes)).setCrc32C(IngestProbe.crc(bytes))).build();
    disk.spaceLeft(0);
    assertThat(data.acceptForward(forward)).failsWithin(java.time.Duration.ofSeconds(10));
    String refused = data.describe("p", 13).get(10, TimeUnit.SECONDS);
    disk.spaceLeft(Long.MAX_VALUE);
    SequenceNumber stored = data.acceptForward(forward).get(10, TimeUnit.SECONDS);
    assertThat(stored.n()).as("after %s", refused).isGreaterThan(numberOf(refused));
    assertThat(data.describe("p", 13).get(10, TimeUnit.SECONDS)).endsWith(" durable");
  }
}
