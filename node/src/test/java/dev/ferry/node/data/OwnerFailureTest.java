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
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Claims 12-15 in process: while a primary writes (each write to its own block) and the
 * secondary is down (so nothing is applied and every copy matters), the owner of some
 * portions stops. The leader's failure detector declares it FAILED within the timeout, its
 * portions move to the other two, whose mirror copies are handed over to the new owners and
 * copied again; the primary's writes go on. When the secondary is back, every write
 * acknowledged before, during and after the failure is there with its bytes. The same with
 * three copies and two nodes stopping at once.
 */
class OwnerFailureTest {
  private static final long REGION = 64 << 10;
  private static final int REGIONS = 32;
  private static final int BLOCK = 256;
  @TempDir Path dir;

  @Test
  void writesAcknowledgedAroundAnOwnerFailureAllReachTheSecondary() throws Exception {
    run(3, 2, cluster -> {
      // a node that is not the Raft leader, so the detector keeps running where it is
      String leader = cluster.leader();
      for (int i = 0; i < 3; i++) {
        if (!cluster.nodes.get(i).id().equals(leader)) {
          return List.of(i);
        }
      }
      throw new AssertionError("no follower");
    });
  }

  /**
   * copies 3: the owner of a portion and its first mirror stop at the same moment; the second
   * mirror's copies are all that is left of that portion's un-applied updates (claim 13 with
   * one survivor), and the portions of both get two mirrors again.
   */
  @Test
  void withThreeCopiesTwoSimultaneousFailuresLoseNothing() throws Exception {
    run(5, 3, cluster -> {
      String leader = cluster.leader();
      var a = cluster.nodes.get(0).raft().state().assignment().get("of");
      for (int r = 0; r < a.regions(); r++) {
        String owner = a.owner(r);
        String mirror = a.mirror(r);
        if (!owner.equals(leader) && !mirror.equals(leader)) {
          assertThat(a.mirrors(r)).hasSize(2);
          return List.of(indexOf(cluster, owner), indexOf(cluster, mirror));
        }
      }
      throw new AssertionError("no portion with owner and first mirror both followers: " + leader);
    });
  }

  private static int indexOf(InProcessCluster cluster, String id) {
    for (int i = 0; i < cluster.nodes.size(); i++) {
      if (cluster.nodes.get(i).id().equals(id)) {
        return i;
      }
    }
    throw new AssertionError("no node " + id);
  }

  private void run(int nodes, int copies, Function<InProcessCluster, List<Integer>> pickVictims)
      throws Exception {
    int drPort;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      drPort = free.getLocalPort();
    }
    HostAndPort drAddress = HostAndPort.fromParts("127.0.0.1", drPort);
    SecondaryServer secondary = SecondaryServer.start(dir.resolve("dr"), drAddress);
    try (InProcessCluster cluster = new InProcessCluster(dir.resolve("site"), nodes,
            Map.of("cts.period", "50ms", "failure.heartbeat.interval", "100ms",
                "failure.timeout", "500ms"), i -> Disk.REAL)) {
      String dr = drAddress.toString();
      if (copies != 2) {
        try (var admin = cluster.client()) {
          admin.setCopies(copies);
        }
      }
      cluster.createVolume("of", REGIONS * REGION, REGION, dr);
      secondary.close(); // epochs close but are not applied: the copies at the nodes are all
      List<Integer> victims = pickVictims.apply(cluster);
      int slots = (int) (REGION / BLOCK);
      List<long[]> acked = new ArrayList<>(); // offset, fill
      List<Integer> stillReachable = new ArrayList<>();
      for (int i = 0; i < nodes; i++) {
        if (!victims.contains(i)) {
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
        // at the same moment: stopping one takes a while (it closes its servers, then Raft)
        CompletableFuture.allOf(victims.stream()
            .map(v -> CompletableFuture.runAsync(() -> cluster.stop(v)))
            .toArray(CompletableFuture[]::new)).join();
        // writes to the failed owner's portions wait until it is declared failed and the
        // handoff is done, then go on
        for (; k < 1200; k++) {
          acked.add(write(p, k, slots));
        }
      }
      var s = cluster.nodes.get(stillReachable.get(0)).raft().state();
      var a = s.assignment().get("of");
      for (int v : victims) {
        String victimId = cluster.nodes.get(v).id();
        assertThat(s.members().get(victimId).state()).isEqualTo(MemberState.FAILED);
        assertThat(a.placementsOf(victimId)).isZero();
      }
      for (int r = 0; r < a.regions(); r++) {
        assertThat(a.mirrors(r)).as("mirrors of region %d", r).hasSize(copies - 1);
      }
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
