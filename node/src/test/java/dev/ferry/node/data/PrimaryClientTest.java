package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import dev.ferry.client.AdminClient;
import dev.ferry.client.PrimaryClient;
import dev.ferry.node.InProcessCluster;
import dev.ferry.node.journal.Disk;
import dev.ferry.proto.control.MemberState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * PrimaryClient against three nodes whose primaries' traffic has its own port (ingest.listen):
 * writes go straight to each portion's owner, and the client follows an assignment change.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrimaryClientTest {
  private static final long REGION = 1 << 20;
  @TempDir static Path dir;
  private InProcessCluster cluster;

  @BeforeAll
  void start() throws Exception {
    cluster = new InProcessCluster(dir, 3, Map.of(), i -> Disk.REAL, true);
    try (AdminClient c = cluster.client()) {
      c.createVolume("pc", 12 * REGION, REGION, "");
    }
  }

  @AfterAll
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  private PrimaryClient client(String id) {
    return new PrimaryClient(cluster.admins.stream().map(HostAndPort::fromString).toList(), id, 16,
        Duration.ofSeconds(20));
  }

  private String owner(int region) {
    return cluster.nodes.get(0).raft().state().assignment().get("pc").owner(region);
  }

  private List<PrimaryClient.WriteAck> writeEveryRegion(PrimaryClient c, int round) throws Exception {
    List<CompletableFuture<PrimaryClient.WriteAck>> acks = new ArrayList<>();
    for (int r = 0; r < 12; r++) {
      acks.add(c.write("pc", r * REGION + round * 4096L, new byte[] {(byte) r, (byte) round}));
    }
    List<PrimaryClient.WriteAck> out = new ArrayList<>();
    for (CompletableFuture<PrimaryClient.WriteAck> f : acks) {
      out.add(f.get(20, TimeUnit.SECONDS));
    }
    return out;
  }

  @Test
  void membersRegisterTheirIngestPortAndWritesGoStraightToTheOwner() throws Exception {
    var members = cluster.nodes.get(0).raft().state().members();
    for (int i = 0; i < 3; i++) {
      assertThat(members.get("n" + (i + 1)).ingestAddress()).isEqualTo(cluster.ingests.get(i))
          .isNotEqualTo(cluster.admins.get(i));
    }
    try (PrimaryClient c = client("direct")) {
      List<PrimaryClient.WriteAck> acks = writeEveryRegion(c, 0);
      for (int r = 0; r < 12; r++) {
        String owner = owner(r);
        String held = cluster.nodes.get(Integer.parseInt(owner.substring(1)) - 1).data()
            .describe("direct", acks.get(r).clientSeq()).get(5, TimeUnit.SECONDS);
        // sent to the owner, not forwarded: the owner's copy names the mirror as its peer
        String mirror = cluster.nodes.get(0).raft().state().assignment().get("pc").mirror(r);
        assertThat(held).startsWith("OWNED " + acks.get(r).epoch() + " ").contains(" " + mirror + " ");
      }
    }
  }

  @Test
  void theClientFollowsAnAssignmentChange() throws Exception {
    try (PrimaryClient c = client("follow")) {
      writeEveryRegion(c, 1);
      try (AdminClient admin = cluster.client()) {
        admin.drainMember("n3");
      }
      // its portions move at the next epoch end
      await().atMost(Duration.ofSeconds(10)).until(() -> {
        var s = cluster.nodes.get(0).raft().state();
        return s.members().get("n3").state() == MemberState.DRAINING
            && s.assignment().values().stream().allMatch(a -> a.placementsOf("n3") == 0);
      });
      List<PrimaryClient.WriteAck> acks = writeEveryRegion(c, 2);
      assertThat(acks).hasSize(12);
      for (int r = 0; r < 12; r++) {
        assertThat(owner(r)).isNotEqualTo("n3");
      }
    }
  }
}
