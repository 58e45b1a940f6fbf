package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.control.ClusterState;
import dev.ferry.control.Portion;
import dev.ferry.node.FerryNode;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.Disk;
import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.Watermark;
import dev.ferry.proto.ingest.WriteResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Claims 10, 11: an owner changes only at an epoch end. The barrier is driven by hand (no
 * coordinator rounds): Freeze(N) names the portion whose owner CloseEpoch(N) moves; a write of
 * it sent after the freeze is numbered by nobody until that close is applied, then by the new
 * owner from (N+1, 1). Without the wait the old owner numbers it in N+1 and cannot keep it.
 */
class PlannedMoveTest {
  private static final String VOLUME = "mv";
  private static final long REGION = 64 << 10;
  @TempDir Path dir;

  @Test
  void aWriteOfAMovingPortionWaitsForTheCloseAndIsNumberedByTheNewOwner() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 3, Map.of("cts.period", "1h"),
        i -> Disk.REAL)) {
      cluster.createVolume(VOLUME, 4 * REGION, REGION, "");
      int region = 0;
      int oldOwner = cluster.ownerOf(VOLUME, region);
      int newOwner = (oldOwner + 1) % 3 == cluster.mirrorOf(VOLUME, region)
          ? (oldOwner + 2) % 3 : (oldOwner + 1) % 3;
      // one ordinary epoch first: every node takes part in a barrier before it numbers
      close(cluster, List.of(), null);
      long epoch = state(cluster).openEpoch();
      try (IngestProbe toOld = new IngestProbe(cluster.admins.get(oldOwner))) {
        WriteResponse a = toOld.call(IngestProbe.write("mv", 1, VOLUME, 0, block(1)));
        assertThat(a.getAck().getEpoch()).isEqualTo(epoch);

        Portion moving = new Portion(VOLUME, region);
        freezeAndThaw(cluster, epoch, List.of(moving));
        CompletableFuture<WriteResponse> b =
            toOld.send(IngestProbe.write("mv", 2, VOLUME, 512, block(2)));
        // nobody numbers it while the move is pending
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() ->
            !b.isDone() && cluster.nodes.get(oldOwner).data().describe("mv", 2).get() == null);

        ReassignPortions move = ReassignPortions.newBuilder()
            .setBaseVersion(state(cluster).assignmentVersion())
            .addChanges(PortionPlacement.newBuilder().setVolume(VOLUME).setRegion(region)
                .setOwner(cluster.nodes.get(newOwner).id())
                .setMirror(cluster.nodes.get(oldOwner).id()))
            .build();
        List<Watermark> sealed = sealAndClose(cluster, epoch, move);
        WriteResponse acked = b.get(10, TimeUnit.SECONDS);
        if (acked.hasError() && acked.getError().getCode() == io.grpc.Status.Code.UNAVAILABLE.value()) {
          // released at the old owner before the new one applied the close: a primary retries
          acked = toOld.call(IngestProbe.write("mv", 2, VOLUME, 512, block(2)));
        }
        assertThat(acked.hasAck()).as("%s", acked).isTrue();
        assertThat(acked.getAck().getEpoch()).isEqualTo(epoch + 1);
        assertThat(acked.getAck().getN()).isEqualTo(1);
        assertThat(cluster.nodes.get(newOwner).data().describe("mv", 2).get())
            .startsWith("OWNED " + (epoch + 1) + " 1 ");
        // A was acknowledged in the closed epoch by the old owner, which keeps it to transfer
        assertThat(sealed).filteredOn(w -> w.getVolume().equals(VOLUME) && w.getRegion() == region)
            .singleElement().satisfies(w -> assertThat(w.getLastN()).isEqualTo(1));
      }
    }
  }

  /**
   * A round that froze epoch N without naming the move, then failed (a member did not answer),
   * lets the owner number the portion in N+1. The next round's Freeze(N) names the move: the
   * owner answers that it numbered the portion in N+1 already, so the move must not ride on
   * this close (two owners in N+1 would each stage half of it: the secondary never applies it).
   */
  @Test
  void aFreezeNamingAMoveReportsThePortionWhenItsOwnerNumberedItInTheNextEpochAlready()
      throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 3, Map.of("cts.period", "1h"),
        i -> Disk.REAL)) {
      cluster.createVolume(VOLUME, 4 * REGION, REGION, "");
      int oldOwner = cluster.ownerOf(VOLUME, 0);
      close(cluster, List.of(), null);
      long epoch = state(cluster).openEpoch();
      Portion moving = new Portion(VOLUME, 0);
      Portion staying = new Portion(VOLUME, 1);
      try (IngestProbe toOld = new IngestProbe(cluster.admins.get(oldOwner))) {
        // round 1 froze N naming nothing (and thawed), then failed before the seal
        freezeAndThaw(cluster, epoch, List.of());
        WriteResponse b = toOld.call(IngestProbe.write("mv", 2, VOLUME, 512, block(2)));
        assertThat(b.getAck().getEpoch()).isEqualTo(epoch + 1);
        // round 2 plans the move
        for (int i = 0; i < cluster.nodes.size(); i++) {
          List<Portion> reported = cluster.nodes.get(i).data()
              .freeze(epoch, List.of(moving, staying)).get(10, TimeUnit.SECONDS);
          assertThat(reported).as("node %d", i)
              .isEqualTo(i == oldOwner ? List.of(moving) : List.of());
        }
      }
    }
  }

  private static ClusterState state(InProcessCluster cluster) {
    return cluster.nodes.get(0).raft().state();
  }

  private static void freezeAndThaw(InProcessCluster cluster, long epoch, List<Portion> moving)
      throws Exception {
    for (FerryNode n : cluster.nodes) {
      n.data().freeze(epoch, moving).get(10, TimeUnit.SECONDS);
    }
    for (FerryNode n : cluster.nodes) {
      n.data().thaw(epoch).get(10, TimeUnit.SECONDS);
    }
  }

  private static List<Watermark> sealAndClose(InProcessCluster cluster, long epoch,
      ReassignPortions change) throws Exception {
    List<Watermark> marks = new ArrayList<>();
    for (FerryNode n : cluster.nodes) {
      marks.addAll(n.data().seal(epoch).get(10, TimeUnit.SECONDS));
    }
    CloseEpoch.Builder close = CloseEpoch.newBuilder().setEpoch(epoch).addAllWatermarks(marks);
    if (change != null) {
      close.setNextAssignment(change);
    }
    cluster.nodes.get(0).raft().submit(Command.newBuilder().setCloseEpoch(close).build())
        .get(10, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(10)).until(() ->
        cluster.nodes.stream().allMatch(n -> n.raft().state().openEpoch() > epoch));
    return marks;
  }

  private static void close(InProcessCluster cluster, List<Portion> moving, ReassignPortions change)
      throws Exception {
    long epoch = state(cluster).openEpoch();
    freezeAndThaw(cluster, epoch, moving);
    sealAndClose(cluster, epoch, change);
  }

  private static byte[] block(int fill) {
    byte[] b = new byte[512];
    java.util.Arrays.fill(b, (byte) fill);
    return b;
  }
}
