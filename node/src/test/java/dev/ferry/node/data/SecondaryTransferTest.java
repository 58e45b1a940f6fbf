package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import com.google.protobuf.ByteString;
import dev.ferry.client.AdminClient;
import dev.ferry.client.PrimaryClient;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.secondary.SecondaryServer;
import dev.ferry.proto.secondary.ReadRequest;
import dev.ferry.proto.secondary.SecondaryGrpc;
import dev.ferry.proto.secondary.StatusRequest;
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
 * Closed epochs travel to the secondary: owners stage their portions, the coordinator commits
 * the epoch and tells the secondary to apply it, and the secondary's images then hold every
 * acknowledged write of the applied epochs.
 */
class SecondaryTransferTest {
  private static final long REGION = 1 << 20;
  @TempDir Path dir;

  @Test
  void acknowledgedWritesReachTheSecondaryOnceTheirEpochIsApplied() throws Exception {
    try (SecondaryServer secondary = SecondaryServer.start(dir.resolve("dr"),
            HostAndPort.fromParts("127.0.0.1", 0));
        InProcessCluster cluster = new InProcessCluster(dir.resolve("site"), 3,
            Map.of("cts.period", "100ms"), i -> Disk.REAL)) {
      String dr = "127.0.0.1:" + secondary.port();
      try (AdminClient c = cluster.client()) {
        c.createVolume("t", 6 * REGION, REGION, dr);
      }
      List<CompletableFuture<PrimaryClient.WriteAck>> acks = new ArrayList<>();
      List<byte[]> written = new ArrayList<>();
      try (PrimaryClient p = new PrimaryClient(
          cluster.admins.stream().map(HostAndPort::fromString).toList(), "tp", 8, Duration.ofSeconds(20))) {
        for (int i = 0; i < 60; i++) {
          byte[] data = new byte[256];
          java.util.Arrays.fill(data, (byte) (i + 1));
          written.add(data);
          acks.add(p.write("t", (i % 6) * REGION + (i / 6) * 256L, data));
        }
        long lastEpoch = 0;
        for (CompletableFuture<PrimaryClient.WriteAck> f : acks) {
          lastEpoch = Math.max(lastEpoch, f.get(20, TimeUnit.SECONDS).epoch());
        }
        long wanted = lastEpoch;
        await().atMost(Duration.ofSeconds(30)).until(() ->
            cluster.nodes.get(0).raft().state().consistentEpoch() >= wanted);
      }
      ManagedChannel ch = NettyChannelBuilder.forTarget(dr).usePlaintext().build();
      try {
        var stub = SecondaryGrpc.newBlockingStub(ch);
        assertThat(stub.status(StatusRequest.getDefaultInstance()).getAppliedEpoch())
            .isGreaterThanOrEqualTo(cluster.nodes.get(0).raft().state().consistentEpoch());
        for (int i = 0; i < 60; i++) {
          ByteString got = stub.read(ReadRequest.newBuilder().setVolume("t")
              .setOffset((i % 6) * REGION + (i / 6) * 256L).setLength(256).build()).getData();
          assertThat(got.toByteArray()).as("write %d at the secondary", i).isEqualTo(written.get(i));
        }
      } finally {
        ch.shutdownNow();
      }
    }
  }

  /**
   * While a node replays its Raft log after a restart its states show epochs as CLOSED that were
   * staged and applied long ago: it stages nothing until the replay is done
   * ({@code DataPlane#waitForControlState}), then stages what is really left.
   */
  @Test
  void aNodeStillReplayingItsRaftLogStagesNothingUntilTheReplayIsDone() throws Exception {
    try (SecondaryServer secondary = SecondaryServer.start(dir.resolve("dr"),
            HostAndPort.fromParts("127.0.0.1", 0));
        InProcessCluster cluster = new InProcessCluster(dir.resolve("site"), 3,
            Map.of("cts.period", "100ms"), i -> Disk.REAL)) {
      try (AdminClient c = cluster.client()) {
        c.createVolume("t", 6 * REGION, REGION, "127.0.0.1:" + secondary.port());
      }
      int owner = cluster.ownerOf("t", 0);
      java.util.concurrent.atomic.AtomicBoolean loaded =
          new java.util.concurrent.atomic.AtomicBoolean(true);
      cluster.nodes.get(owner).data().waitForControlState(loaded::get);
      long epoch;
      try (PrimaryClient p = new PrimaryClient(
          cluster.admins.stream().map(HostAndPort::fromString).toList(), "tp", 8, Duration.ofSeconds(20))) {
        // acknowledged: the owner has joined the barrier (which also waits for a loaded state)
        p.write("t", 0, new byte[] {9}).get(20, TimeUnit.SECONDS);
        loaded.set(false); // as if it were replaying now; it numbers on, but stages nothing
        epoch = p.write("t", 0, new byte[] {1, 2, 3}).get(20, TimeUnit.SECONDS).epoch();
      }
      var state = cluster.nodes.get(0).raft();
      cluster.awaitBarrierHeldBack(10);
      assertThat(state.state().consistentEpoch()).as("epoch %d while its owner replays", epoch)
          .isLessThan(epoch);
      loaded.set(true);
      await().atMost(Duration.ofSeconds(30)).until(() -> state.state().consistentEpoch() >= epoch);
    }
  }

  /**
   * The owner reads payloads back from its journal for the transfer (they are not kept in
   * memory), verified: a payload damaged on disk after its ack is repaired from the mirror's
   * copy (checked against the primary's CRC32C), and the epoch applies with the right bytes.
   */
  @Test
  void aPayloadDamagedInTheOwnersJournalIsRepairedFromTheMirrorsCopy() throws Exception {
    byte[] data = new byte[256];
    java.util.Arrays.fill(data, (byte) 0x5A);
    byte[] got = writeDamageAndTransfer(data, false, (cluster, epoch) ->
        await().atMost(Duration.ofSeconds(30)).until(() ->
            cluster.nodes.get(0).raft().state().consistentEpoch() >= epoch));
    assertThat(got).as("the write at the secondary").isEqualTo(data);
  }

  /**
   * With every copy damaged there is nothing good to ship: the epoch holding the write is not
   * applied, rather than applied with wrong bytes.
   */
  @Test
  void aPayloadDamagedInEveryCopyIsNotShipped() throws Exception {
    byte[] data = new byte[256];
    java.util.Arrays.fill(data, (byte) 0x3C);
    byte[] got = writeDamageAndTransfer(data, true, (cluster, epoch) -> {
      cluster.awaitBarrierHeldBack(20);
      assertThat(cluster.nodes.get(0).raft().state().consistentEpoch())
          .as("epoch %d holds the damaged payload", epoch).isLessThan(epoch);
    });
    assertThat(got).as("nothing of it at the secondary").isEqualTo(new byte[256]);
  }

  /** What the test awaits once the secondary runs, given the cluster and the epoch. */
  private interface AfterDamage {
    void await(InProcessCluster cluster, long epoch) throws Exception;
  }

  /**
   * Writes {@code data} at region 2 of a volume whose secondary is not running yet, damages the
   * owner's journal copy (every node's with {@code everyCopy}), starts the secondary, runs
   * {@code then}, and returns what the secondary holds at that offset (zeros if nothing).
   */
  private byte[] writeDamageAndTransfer(byte[] data, boolean everyCopy, AfterDamage then)
      throws Exception {
    int drPort;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      drPort = free.getLocalPort();
    }
    HostAndPort drAddress = HostAndPort.fromParts("127.0.0.1", drPort);
    try (InProcessCluster cluster = new InProcessCluster(dir.resolve("site"), 3,
            Map.of("cts.period", "100ms"), i -> Disk.REAL)) {
      try (AdminClient c = cluster.client()) {
        // not running yet: --force past the check that it answers
        c.createVolume("t", 6 * REGION, REGION, drAddress.toString(), true);
      }
      long epoch;
      try (PrimaryClient p = new PrimaryClient(
          cluster.admins.stream().map(HostAndPort::fromString).toList(), "tp", 8, Duration.ofSeconds(20))) {
        epoch = p.write("t", 2 * REGION, data).get(20, TimeUnit.SECONDS).epoch();
      }
      int owner = cluster.ownerOf("t", 2);
      int damaged = 0;
      for (int i = 0; i < 3; i++) {
        if ((everyCopy || i == owner)
            && damageFirst(dir.resolve("site").resolve("n" + (i + 1)).resolve("journal"), data)) {
          damaged++;
        }
      }
      assertThat(damaged).as("copies damaged").isEqualTo(everyCopy ? 2 : 1);
      try (SecondaryServer secondary = SecondaryServer.start(dir.resolve("dr"), drAddress)) {
        then.await(cluster, epoch);
        ManagedChannel ch = NettyChannelBuilder.forTarget(drAddress.toString()).usePlaintext().build();
        try {
          return SecondaryGrpc.newBlockingStub(ch).read(ReadRequest.newBuilder().setVolume("t")
              .setOffset(2 * REGION).setLength(256).build()).getData().toByteArray();
        } catch (io.grpc.StatusRuntimeException e) {
          // no epoch with a write of "t" applied: the secondary has no image of it yet
          assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.NOT_FOUND);
          return new byte[256];
        } finally {
          ch.shutdownNow();
        }
      }
    }
  }

  /** Flips one bit inside the first occurrence of {@code payload} in the journal's segments. */
  private static boolean damageFirst(Path journal, byte[] payload) throws java.io.IOException {
    try (var files = java.nio.file.Files.list(journal)) {
      for (Path f : files.sorted().toList()) {
        byte[] content = java.nio.file.Files.readAllBytes(f);
        for (int i = 0; i + payload.length <= content.length; i++) {
          if (java.util.Arrays.equals(content, i, i + payload.length, payload, 0, payload.length)) {
            content[i + payload.length / 2] ^= 0x01;
            java.nio.file.Files.write(f, content);
            return true;
          }
        }
      }
    }
    return false;
  }
}
