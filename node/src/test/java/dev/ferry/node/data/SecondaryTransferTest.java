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
}
