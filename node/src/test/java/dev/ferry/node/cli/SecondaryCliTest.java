package dev.ferry.node.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.ferry.client.AdminClient;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.cli.FerryCliTest.Run;
import dev.ferry.node.secondary.SecondaryServer;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secondaries that are down or gone (issue 10, point 5, case 7), through the CLI against a
 * two-node cluster in the test JVM: {@code volume create --secondary} checks that the secondary
 * answers, {@code --force} skips the check, status names the secondary the consistent point waits
 * for, and {@code secondary detach} lets the consistent point advance again.
 */
class SecondaryCliTest {
  @TempDir Path dir;

  private static int unusedPort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void aSecondaryThatDoesNotAnswerIsRefusedUnlessForcedAndCanBeDetached() throws Exception {
    String dead = "127.0.0.1:" + unusedPort();
    try (SecondaryServer live = SecondaryServer.start(dir.resolve("dr"),
            HostAndPort.fromParts("127.0.0.1", 0));
        InProcessCluster cluster = new InProcessCluster(dir.resolve("site"), 2,
            Map.of("cts.period", "100ms"), i -> dev.ferry.node.journal.Disk.REAL)) {
      String node = cluster.admins.get(0);
      String dr = "127.0.0.1:" + live.port();

      Run refused = FerryCliTest.run("admin", "--cluster", node, "volume", "create", "x",
          "--size", "4MiB", "--region-size", "1MiB", "--secondary", dead);
      assertThat(refused.exit()).isEqualTo(FerryCli.FAILED);
      assertThat(refused.err().strip()).startsWith("ferry: secondary " + dead + " does not answer")
          .endsWith("(FAILED_PRECONDITION)").doesNotContain("\n");
      assertThat(cluster.nodes.get(0).raft().state().volumes()).doesNotContainKey("x");

      Run ok = FerryCliTest.run("admin", "--cluster", node, "volume", "create", "v",
          "--size", "4MiB", "--region-size", "1MiB", "--secondary", dr);
      assertThat(ok.exit()).as(ok.err()).isZero();
      Run forced = FerryCliTest.run("admin", "--cluster", node, "volume", "create", "x",
          "--size", "4MiB", "--region-size", "1MiB", "--secondary", dead, "--force");
      assertThat(forced.exit()).as(forced.err()).isZero();

      // nothing listens at `dead`: every epoch from now on waits for it
      long stuck;
      try (AdminClient c = cluster.client()) {
        long open = c.status().getOpenEpoch();
        await().atMost(Duration.ofSeconds(20)).until(() -> c.status().getOpenEpoch() > open + 3);
        stuck = c.status().getConsistentEpoch();
        assertThat(c.status().getConsistentPointWaitsForList()).containsExactly(dead);
      }
      JsonObject status = JsonParser.parseString(FerryCliTest.run("admin", "--cluster", node,
          "status", "--json").out()).getAsJsonObject();
      assertThat(status.getAsJsonArray("consistentPointWaitsFor").get(0).getAsString())
          .isEqualTo(dead);
      assertThat(status.get("appliedEpoch").getAsLong()).isLessThanOrEqualTo(stuck);
      JsonObject epochs = JsonParser.parseString(FerryCliTest.run("admin", "--cluster", node,
          "epochs", "--json").out()).getAsJsonObject();
      assertThat(epochs.getAsJsonArray("consistentPointWaitsFor").get(0).getAsString())
          .isEqualTo(dead);

      Run list = FerryCliTest.run("admin", "--cluster", node, "secondary", "list", "--json");
      assertThat(list.exit()).as(list.err()).isZero();
      JsonArray secondaries = JsonParser.parseString(list.out()).getAsJsonArray();
      assertThat(secondaries).hasSize(2);
      JsonObject deadInfo = secondaries.asList().stream().map(e -> e.getAsJsonObject())
          .filter(o -> o.get("address").getAsString().equals(dead)).findFirst().orElseThrow();
      assertThat(deadInfo.get("holdsBack").getAsBoolean()).isTrue();
      assertThat(deadInfo.get("detached").getAsBoolean()).isFalse();
      assertThat(deadInfo.getAsJsonArray("volumes").get(0).getAsString()).isEqualTo("x");

      Run detach = FerryCliTest.run("admin", "--cluster", node, "secondary", "detach", dead,
          "--json");
      assertThat(detach.exit()).as(detach.err()).isZero();
      assertThat(detach.out().strip()).isEqualTo(
          "{\"address\":\"" + dead + "\",\"detached\":true,\"volumes\":[\"x\"]}");
      try (AdminClient c = cluster.client()) {
        await().atMost(Duration.ofSeconds(20)).until(() -> c.status().getConsistentEpoch() > stuck + 2);
        assertThat(c.listVolumes().getVolumesList()).filteredOn(v -> v.getName().equals("x"))
            .singleElement().satisfies(v -> assertThat(v.getDetached()).isTrue());
      }
      JsonArray volumes = JsonParser.parseString(FerryCliTest.run("admin", "--cluster", node,
          "volume", "list", "--json").out()).getAsJsonArray();
      assertThat(volumes.asList()).anySatisfy(e -> {
        assertThat(e.getAsJsonObject().get("name").getAsString()).isEqualTo("x");
        assertThat(e.getAsJsonObject().get("detached").getAsBoolean()).isTrue();
      });

      Run again = FerryCliTest.run("admin", "--cluster", node, "secondary", "detach", dead);
      assertThat(again.exit()).isEqualTo(FerryCli.FAILED);
      assertThat(again.err().strip()).isEqualTo("ferry: secondary " + dead
          + " is already detached (1 volume(s) need a full resync) (FAILED_PRECONDITION)");
    }
  }
}
