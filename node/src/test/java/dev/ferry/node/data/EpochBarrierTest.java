package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.control.WatermarkDigest;
import dev.ferry.node.FerryNode;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.FaultyDisk;
import dev.ferry.proto.control.Watermark;
import dev.ferry.proto.ingest.WriteResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's side of the epoch barrier, driven by hand (the coordinator's period is an hour
 * here): Freeze moves numbering to the next epoch and holds its acks until Thaw, waits for the
 * updates begun before it, and reports watermarks that match the updates.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EpochBarrierTest {
  private static final String VOLUME = "b";
  private static final long REGION = 1 << 20;
  @TempDir static Path dir;
  private final List<FaultyDisk> disks = new ArrayList<>();
  private InProcessCluster cluster;
  private final AtomicLong seq = new AtomicLong();
  /** Each test freezes epochs of its own, far above the open one: the tests share the nodes. */
  private final AtomicLong epochs = new AtomicLong(1_000);

  @BeforeAll
  void start() throws Exception {
    for (int i = 0; i < 3; i++) {
      disks.add(new FaultyDisk());
    }
    cluster = new InProcessCluster(dir, 3, Map.of("cts.period", "1h"), disks::get);
    cluster.createVolume(VOLUME, 8 * REGION, REGION, "");
  }

  @AfterAll
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private int owner(int region) {
    return cluster.ownerOf(VOLUME, region);
  }

  private int mirror(int region) {
    return cluster.mirrorOf(VOLUME, region);
  }

  private void freezeAll(long epoch) throws Exception {
    for (FerryNode n : cluster.nodes) {
      n.data().freeze(epoch).get(10, TimeUnit.SECONDS);
    }
  }

  private void thawAll(long epoch) throws Exception {
    for (FerryNode n : cluster.nodes) {
      n.data().thaw(epoch).get(10, TimeUnit.SECONDS);
    }
  }

  private static byte[] block(int fill) {
    byte[] b = new byte[512];
    java.util.Arrays.fill(b, (byte) fill);
    return b;
  }

  @Test
  void afterFreezeUpdatesGoToTheNextEpochAndTheirAcksWaitForThaw() throws Exception {
    long frozen = epochs.addAndGet(10);
    freezeAll(frozen);
    int region = 0;
    long s = seq.incrementAndGet();
    try (IngestProbe probe = new IngestProbe(cluster.admins.get(owner(region)))) {
      CompletableFuture<WriteResponse> ack =
          probe.send(IngestProbe.write("b1", s, VOLUME, region * REGION, block(1)));
      // both copies are durable in epoch frozen + 1, and still no ack
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        assertThat(cluster.nodes.get(owner(region)).data().describe("b1", s).get())
            .startsWith("OWNED " + (frozen + 1) + " ").endsWith(" durable");
        assertThat(cluster.nodes.get(mirror(region)).data().describe("b1", s).get()).endsWith(" durable");
      });
      await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> !ack.isDone());
      thawAll(frozen);
      WriteResponse w = ack.get(10, TimeUnit.SECONDS);
      assertThat(w.getAck().getEpoch()).isEqualTo(frozen + 1);
    }
  }

  @Test
  void sealWaitsForUpdatesBegunBeforeTheFreezeAndReportsTheirWatermark() throws Exception {
    long epoch = epochs.addAndGet(10);
    freezeAll(epoch - 1);
    thawAll(epoch - 1); // numbering is now in `epoch`
    int region = 1;
    int gatedMirror = mirror(region);
    FaultyDisk.Gate gate = new FaultyDisk.Gate();
    try (IngestProbe probe = new IngestProbe(cluster.admins.get(owner(region)))) {
      long s1 = seq.incrementAndGet();
      WriteResponse first = probe.call(IngestProbe.write("b2", s1, VOLUME, region * REGION, block(2)));
      disks.get(gatedMirror).beforeForce(gate.holds());
      long s2 = seq.incrementAndGet();
      CompletableFuture<WriteResponse> pending =
          probe.send(IngestProbe.write("b2", s2, VOLUME, region * REGION + 512, block(3)));
      await().atMost(Duration.ofSeconds(10)).until(() ->
          String.valueOf(cluster.nodes.get(gatedMirror).data().describe("b2", s2).get()).endsWith(" pending"));
      // the cut itself does not wait for the copies: the held-ack window stays short
      cluster.nodes.get(owner(region)).data().freeze(epoch).get(10, TimeUnit.SECONDS);
      CompletableFuture<List<Watermark>> seal = cluster.nodes.get(owner(region)).data().seal(epoch);
      await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> !seal.isDone());
      gate.open();
      List<Watermark> marks = seal.get(10, TimeUnit.SECONDS);
      WriteResponse second = pending.get(10, TimeUnit.SECONDS);
      assertThat(first.getAck().getEpoch()).isEqualTo(epoch);
      assertThat(second.getAck().getEpoch()).isEqualTo(epoch);

      WatermarkDigest expected = new WatermarkDigest();
      expected.add(first.getAck().getN(), region * REGION, 512, IngestProbe.crc(block(2)));
      expected.add(second.getAck().getN(), region * REGION + 512, 512, IngestProbe.crc(block(3)));
      assertThat(marks).filteredOn(w -> w.getVolume().equals(VOLUME) && w.getRegion() == region)
          .singleElement().satisfies(w -> {
            assertThat(w.getCount()).isEqualTo(2);
            assertThat(w.getBytes()).isEqualTo(1024);
            assertThat(w.getLastN()).isEqualTo(second.getAck().getN());
            assertThat(w.getDigest().toByteArray()).isEqualTo(expected.digest());
          });
      freezeAll(epoch);
      thawAll(epoch);
    } finally {
      disks.get(gatedMirror).beforeForce(file -> { });
      gate.open();
    }
  }

  @Test
  void sealIsRefusedUntilTheNodeIsFrozenThroughTheEpoch() throws Exception {
    long epoch = epochs.addAndGet(10);
    freezeAll(epoch - 1);
    assertThatThrownBy(() -> cluster.nodes.get(0).data().seal(epoch).get(10, TimeUnit.SECONDS))
        .hasCauseInstanceOf(io.grpc.StatusException.class)
        .hasMessageContaining("not frozen through epoch " + epoch);
    freezeAll(epoch);
    assertThat(cluster.nodes.get(0).data().seal(epoch).get(10, TimeUnit.SECONDS)).isNotNull();
    thawAll(epoch);
  }

  /**
   * Forces the race the barrier exists for: the owner of A is frozen while the owner of B is
   * not yet. A primary sends B the moment A's ack arrives. With acks of the next epoch held
   * until Thaw, A's ack can only arrive after every node froze, so B lands in A's epoch or
   * later; a node that acknowledged A at once would let B land in the earlier epoch.
   */
  @Test
  void aWriteSentRightAfterAnAckNeverLandsInAnEarlierEpoch() throws Exception {
    var a = cluster.nodes.get(0).raft().state().assignment().get(VOLUME);
    int regionA = 2;
    int regionB = -1;
    for (int r = 0; r < a.regions() && regionB < 0; r++) {
      if (!a.owner(r).equals(a.owner(regionA))) {
        regionB = r;
      }
    }
    int x = owner(regionA);
    int y = owner(regionB);
    try (IngestProbe toX = new IngestProbe(cluster.admins.get(x));
        IngestProbe toY = new IngestProbe(cluster.admins.get(y))) {
      for (int i = 0; i < 20; i++) {
        long epoch = epochs.addAndGet(10);
        cluster.nodes.get(x).data().freeze(epoch).get(10, TimeUnit.SECONDS);
        long sa = seq.incrementAndGet();
        CompletableFuture<WriteResponse> ackA =
            toX.send(IngestProbe.write("race", sa, VOLUME, regionA * REGION, block(i)));
        await().atMost(Duration.ofSeconds(10)).until(() ->
            String.valueOf(cluster.nodes.get(x).data().describe("race", sa).get()).endsWith(" durable")
                && String.valueOf(cluster.nodes.get(mirror(regionA)).data().describe("race", sa).get())
                    .endsWith(" durable"));
        WriteResponse b = null;
        if (ackA.isDone()) { // acknowledged while y is not frozen: B goes out now
          b = toY.call(IngestProbe.write("race", seq.incrementAndGet(), VOLUME, regionB * REGION, block(i)));
        }
        for (int n = 0; n < 3; n++) {
          if (n != x) {
            cluster.nodes.get(n).data().freeze(epoch).get(10, TimeUnit.SECONDS);
          }
        }
        thawAll(epoch);
        WriteResponse acked = ackA.get(10, TimeUnit.SECONDS);
        if (b == null) {
          b = toY.call(IngestProbe.write("race", seq.incrementAndGet(), VOLUME, regionB * REGION, block(i)));
        }
        assertThat(acked.getAck().getEpoch()).as("round %d: A acked before B was sent", i)
            .isLessThanOrEqualTo(b.getAck().getEpoch());
      }
    }
  }
}
