package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import dev.ferry.client.PrimaryClient;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.Disk;
import dev.ferry.node.secondary.AppliedEpochListener;
import dev.ferry.node.secondary.SecondaryServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md §5 at the secondary: while a primary writes A, waits for its ack, then writes B to a
 * portion of another owner (2,000 such pairs, epochs every 50 ms), the secondary's image is
 * checked at every applied epoch, on the store's thread the moment the epoch is applied and
 * before the next one: no B without its A. One node receives each Freeze late, as over a slow
 * link. Fails when the barrier or the held acks are removed.
 */
class AppliedStatesTest {
  private static final long REGION = 64 << 10;
  private static final int BLOCK = 256;
  private static final int PAIRS = 2_000;
  @TempDir Path dir;

  /** What the checks at the applied epochs found. Written on the store's thread only. */
  private static final class Checks {
    final List<Long> epochs = new ArrayList<>();
    final List<String> violations = new ArrayList<>();
    long withB;
  }

  @Test
  void noAppliedStateEverHoldsBWithoutA() throws Exception {
    long[][] pairOffsets = new long[2][]; // set before the first write: A offsets, B offsets
    Checks checks = new Checks();
    AppliedEpochListener check = (epoch, store) -> {
      synchronized (checks) {
        checks.epochs.add(epoch);
        if (pairOffsets[0] == null || !store.state().volumes().contains("ab")) {
          return;
        }
        byte[] image = store.read("ab", 0, 32 * REGION);
        for (int k = 0; k < pairOffsets[0].length; k++) {
          if (image[(int) pairOffsets[1][k]] != 0) {
            checks.withB++;
            if (image[(int) pairOffsets[0][k]] == 0 && checks.violations.size() < 10) {
              checks.violations.add("epoch " + epoch + ": pair " + k + " has B without A");
            }
          }
        }
      }
    };
    try (SecondaryServer secondary = SecondaryServer.start(dir.resolve("dr"),
            HostAndPort.fromParts("127.0.0.1", 0), check);
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

      // one node gets each Freeze 15 ms late (a slow link): for that long the others number
      // into the next epoch and it does not, the moment the held acks exist for
      cluster.nodes.get(cluster.ownerOf("ab", regionPairs.get(0)[1])).data()
          .delayFreezes(Duration.ofMillis(15));
      synchronized (checks) {
        pairOffsets[0] = offsetA;
        pairOffsets[1] = offsetB;
      }
      try (PrimaryClient p = new PrimaryClient(
          cluster.admins.stream().map(HostAndPort::fromString).toList(), "ab", 4, Duration.ofSeconds(20))) {
        for (int k = 0; k < pairs; k++) {
          byte[] data = new byte[BLOCK];
          java.util.Arrays.fill(data, (byte) (1 + k % 250));
          p.write("ab", offsetA[k], data).get(20, TimeUnit.SECONDS); // A acknowledged ...
          p.write("ab", offsetB[k], data).get(20, TimeUnit.SECONDS); // ... before B is sent
        }
      }
      long last = cluster.nodes.get(0).raft().state().openEpoch(); // holds the last B at the latest
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        synchronized (checks) {
          return !checks.epochs.isEmpty() && checks.epochs.get(checks.epochs.size() - 1) >= last;
        }
      });
      synchronized (checks) {
        assertThat(checks.violations).as("applied states holding B without A").isEmpty();
        // every applied epoch was checked, in order, none skipped
        for (int i = 1; i < checks.epochs.size(); i++) {
          assertThat(checks.epochs.get(i)).isEqualTo(checks.epochs.get(i - 1) + 1);
        }
        // not vacuous: many epochs, and the B blocks did reach the secondary
        assertThat(checks.epochs).as("applied epochs checked").hasSizeGreaterThan(20);
        assertThat(checks.withB).as("B blocks seen applied, summed over the epochs").isGreaterThan(pairs);
      }
    }
  }
}
