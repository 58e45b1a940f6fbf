package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.net.HostAndPort;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md §5 at the secondary: while a primary writes A, waits for its ack, then writes B to a
 * portion of another owner (2,000 such pairs, epochs every 50 ms), a reader takes snapshots of
 * the secondary's image and checks every one: no B without its A. The whole volume is 2 MiB,
 * so one Read covers it, and a Read is atomic with respect to applies (one store thread), so
 * each snapshot is the image at one applied epoch.
 */
class AppliedStatesTest {
  private static final long REGION = 64 << 10;
  private static final int BLOCK = 256;
  private static final int PAIRS = 2_000;
  @TempDir Path dir;

  @Test
  void noAppliedStateEverHoldsBWithoutA() throws Exception {
    try (SecondaryServer secondary = SecondaryServer.start(dir.resolve("dr"),
            HostAndPort.fromParts("127.0.0.1", 0));
        InProcessCluster cluster = new InProcessCluster(dir.resolve("site"), 3,
            Map.of("cts.period", "50ms", "data.durability", "mirrored"), i -> Disk.REAL)) {
      String dr = "127.0.0.1:" + secondary.port();
      cluster.createVolume("ab", 32 * REGION, REGION, dr);
      // pairs of regions with different owners; pair k writes A then B into slot k of such a pair
      List<int[]> regionPairs = new ArrayList<>();
      for (int r = 0; r + 1 < 32; r += 2) {
        if (cluster.ownerOf("ab", r) != cluster.ownerOf("ab", r + 1)) {
          regionPairs.add(new int[] {r, r + 1});
        }
      }
      assertThat(regionPairs).isNotEmpty();
      int slots = (int) (REGION / BLOCK);
      int pairs = Math.min(PAIRS, regionPairs.size() * slots);
      long[] offsetA = new long[pairs];
      long[] offsetB = new long[pairs];
      for (int k = 0; k < pairs; k++) {
        int[] rp = regionPairs.get(k % regionPairs.size());
        int slot = k / regionPairs.size();
        offsetA[k] = rp[0] * REGION + (long) slot * BLOCK;
        offsetB[k] = rp[1] * REGION + (long) slot * BLOCK;
      }

      AtomicBoolean writing = new AtomicBoolean(true);
      ManagedChannel ch = NettyChannelBuilder.forTarget(dr).usePlaintext().build();
      CompletableFuture<int[]> checker = CompletableFuture.supplyAsync(() -> {
        var stub = SecondaryGrpc.newBlockingStub(ch);
        int snapshots = 0;
        int withB = 0;
        Set<Long> epochs = new HashSet<>();
        while (writing.get() || snapshots < 5) {
          long epoch = stub.status(StatusRequest.getDefaultInstance()).getAppliedEpoch();
          byte[] image;
          try {
            image = stub.read(ReadRequest.newBuilder().setVolume("ab").setOffset(0)
                .setLength(32 * REGION).build()).getData().toByteArray();
          } catch (io.grpc.StatusRuntimeException e) {
            if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND) {
              continue; // nothing staged for the volume yet: its image does not exist
            }
            throw e;
          }
          snapshots++;
          epochs.add(epoch);
          for (int k = 0; k < pairs; k++) {
            if (image[(int) offsetB[k]] != 0) {
              withB++;
              assertThat(image[(int) offsetA[k]]).as("pair %d: B is applied without A (near epoch %d)",
                  k, epoch).isNotZero();
            }
          }
        }
        return new int[] {snapshots, withB, epochs.size()};
      });
      try (PrimaryClient p = new PrimaryClient(
          cluster.admins.stream().map(HostAndPort::fromString).toList(), "ab", 4, Duration.ofSeconds(20))) {
        for (int k = 0; k < pairs; k++) {
          byte[] data = new byte[BLOCK];
          java.util.Arrays.fill(data, (byte) (1 + k % 250));
          p.write("ab", offsetA[k], data).get(20, TimeUnit.SECONDS); // A acknowledged ...
          p.write("ab", offsetB[k], data).get(20, TimeUnit.SECONDS); // ... before B is sent
        }
      } finally {
        writing.set(false);
      }
      int[] seen = checker.get(60, TimeUnit.SECONDS);
      ch.shutdownNow();
      // not vacuous: many snapshots at many applied epochs, most of them holding some B
      assertThat(seen[0]).as("snapshots").isGreaterThan(20);
      assertThat(seen[1]).as("B blocks seen applied").isGreaterThan(pairs);
      assertThat(seen[2]).as("distinct applied epochs seen").isGreaterThan(10);
    }
  }
}
