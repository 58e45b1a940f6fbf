package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import dev.ferry.client.PrimaryClient;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.secondary.SecondaryServer;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.secondary.ReadRequest;
import dev.ferry.proto.secondary.SecondaryGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
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
 * Claims 12-15 in process: while a primary writes (each write to its own block) and the
 * secondary is down (so nothing is applied and every copy matters), the owner of some
 * portions stops. The leader's failure detector declares it FAILED within the timeout, its
 * portions move to the other two, whose mirror copies are handed over to the new owners and
 * copied again; the primary's writes go on. When the secondary is back, every write
 * acknowledged before, during and after the failure is there with its bytes.
 */
class OwnerFailureTest {
  private static final long REGION = 64 << 10;
  private static final int REGIONS = 32;
  private static final int BLOCK = 256;
  @TempDir Path dir;

  @Test
  void writesAcknowledgedAroundAnOwnerFailureAllReachTheSecondary() throws Exception {
    int drPort;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      drPort = free.getLocalPort();
    }
    HostAndPort drAddress = HostAndPort.fromParts("127.0.0.1", drPort);
    SecondaryServer secondary = SecondaryServer.start(dir.resolve("dr"), drAddress);
    try (InProcessCluster cluster = new InProcessCluster(dir.resolve("site"), 3,
            Map.of("cts.period", "50ms", "failure.heartbeat.interval", "100ms",
                "failure.timeout", "500ms"), i -> Disk.REAL)) {
      String dr = drAddress.toString();
      cluster.createVolume("of", REGIONS * REGION, REGION, dr);
      secondary.close(); // epochs close but are not applied: the copies at the nodes are all
      // a node that is not the Raft leader, so the detector keeps running where it is
      String leader = cluster.leader();
      int victim = -1;
      for (int i = 0; i < 3 && victim < 0; i++) {
        if (!cluster.nodes.get(i).id().equals(leader)) {
          victim = i;
        }
      }
      String victimId = cluster.nodes.get(victim).id();
      int slots = (int) (REGION / BLOCK);
      List<long[]> acked = new ArrayList<>(); // offset, fill
      List<Integer> stillReachable = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        if (i != victim) {
          stillReachable.add(i);
        }
      }
      try (PrimaryClient p = new PrimaryClient(stillReachable.stream()
          .map(i -> HostAndPort.fromString(cluster.admins.get(i))).toList(), "of", 8,
          Duration.ofSeconds(20))) {
        int k = 0;
        for (; k < 600; k++) {
          acked.add(write(p, k, slots));
        }
        cluster.stop(victim);
        // writes to the failed owner's portions wait until it is declared failed and the
        // handoff is done, then go on
        for (; k < 1200; k++) {
          acked.add(write(p, k, slots));
        }
      }
      var s = cluster.nodes.get(stillReachable.get(0)).raft().state();
      assertThat(s.members().get(victimId).state()).isEqualTo(MemberState.FAILED);
      assertThat(s.assignment().get("of").placementsOf(victimId)).isZero();
      secondary = SecondaryServer.start(dir.resolve("dr"), drAddress);
      long last = s.openEpoch();
      await().atMost(Duration.ofSeconds(60)).until(() ->
          cluster.nodes.get(stillReachable.get(0)).raft().state().consistentEpoch() >= last);
      ManagedChannel ch = NettyChannelBuilder.forTarget(dr).usePlaintext().build();
      try {
        byte[] image = SecondaryGrpc.newBlockingStub(ch).read(ReadRequest.newBuilder()
            .setVolume("of").setOffset(0).setLength(REGIONS * REGION).build()).getData().toByteArray();
        List<String> lost = new ArrayList<>();
        for (long[] w : acked) {
          for (int b = 0; b < BLOCK; b++) {
            if (image[(int) w[0] + b] != (byte) w[1]) {
              lost.add("offset " + w[0]);
              break;
            }
          }
        }
        assertThat(lost).as("acknowledged writes missing at the secondary").isEmpty();
      } finally {
        ch.shutdownNow();
      }
    } finally {
      secondary.close();
    }
  }

  /** Write k goes to its own block (spread over every region); returns {offset, fill}. */
  private static long[] write(PrimaryClient p, int k, int slots) throws Exception {
    long offset = (k % REGIONS) * REGION + (long) (k / REGIONS % slots) * BLOCK;
    byte fill = (byte) (1 + k % 250);
    byte[] data = new byte[BLOCK];
    java.util.Arrays.fill(data, fill);
    p.write("of", offset, data).get(30, TimeUnit.SECONDS);
    return new long[] {offset, fill};
  }
}
