package dev.ferry.node.data;

import static dev.ferry.node.data.DataPlaneFixtures.cluster;
import static dev.ferry.node.data.DataPlaneFixtures.options;
import static dev.ferry.node.data.DataPlaneFixtures.regionOwnedBy;
import static dev.ferry.node.data.DataPlaneFixtures.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.control.ClusterState;
import dev.ferry.node.journal.FaultyDisk;
import dev.ferry.node.journal.Journal;
import dev.ferry.proto.peer.MirrorRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One thread, "ferry-data", owns the data plane's state (issue 11): work that another thread
 * finishes (the journal's writer forcing a copy) hops back onto it before anything that waits
 * for that work runs.
 */
class DataThreadTest {
  @TempDir Path dir;

  /**
   * A copy's durability used to be settled on "ferry-journal-writer": a mirror's answer, an
   * owner's ack and a waiting Seal then ran on the journal's writer thread, which must only
   * write, and read state the data thread owns.
   */
  @Test
  void whatWaitsForADurableCopyRunsOnTheDataThreadNotTheJournalWriter() throws Exception {
    ClusterState s = cluster(Map.of("m", "127.0.0.1:1", "x", "127.0.0.1:1"));
    int region = regionOwnedBy(s, "x"); // and mirrored by m, with two members
    FaultyDisk disk = new FaultyDisk();
    try (Journal journal = Journal.open(dir, options(disk), r -> { });
        DataPlane data = new DataPlane("m", journal, () -> s, 1 << 20, List.of());
        FaultyDisk.Gate force = new FaultyDisk.Gate()) {
      data.stateChanged(s);
      data.freeze(s.openEpoch() - 1).get(10, TimeUnit.SECONDS);
      disk.beforeForce(force.holds());
      byte[] bytes = {9};
      CompletableFuture<SequenceNumber> copied = data.acceptMirror(MirrorRequest.newBuilder()
          .setAssignmentVersion(s.assignmentVersion()).setSender("x").setId(1)
          .setUpdate(update(region, bytes, s.openEpoch(), 1)).build());
      await().atMost(Duration.ofSeconds(10)).until(() ->
          String.valueOf(data.describe("p", 1).get()).endsWith(" pending"));
      // registered while the copy is being forced: runs on whichever thread settles it
      CompletableFuture<String> answeredOn = copied.thenApply(seq -> Thread.currentThread().getName());
      force.open();
      assertThat(answeredOn.get(10, TimeUnit.SECONDS)).isEqualTo("ferry-data");
      assertThat(copied.get().n()).isEqualTo(1);
    }
  }
}
