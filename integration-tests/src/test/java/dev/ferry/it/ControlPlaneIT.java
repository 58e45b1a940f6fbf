package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.ferry.client.AdminClient;
import dev.ferry.proto.admin.StatusReply;
import dev.ferry.proto.control.ClusterStateSnapshot;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.PortionPlacement;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The control plane with real node processes on loopback: election, commands through a
 * follower, identical state on every node, kill -9 of the leader, catch-up after restart, a
 * fourth node joining, and bad admin input. The steps share one cluster and run in order.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.extension.ExtendWith(FailureDigest.class)
class ControlPlaneIT implements FailureDigest.HasClusterDir {
  private static final int BASE_PORT = 20000;
  private Path dir;
  private List<String> admins;

  @Override
  public Path clusterDir() {
    return dir;
  }

  @BeforeAll
  void up() throws Exception {
    dir = FerryCli.workDir("control-plane");
    // a snapshot every few entries, so restarts load snapshots and not only the log
    FerryCli.run("cluster", "up", "--nodes", "3", "--dir", dir.toString(),
        "--base-port", String.valueOf(BASE_PORT), "--set", "raft.snapshot.every=4").assertOk();
    admins = new ArrayList<>();
    FerryCli.nodes(dir).values().forEach(n -> admins.add(n.get("admin").getAsString()));
  }

  @AfterAll
  void down() throws Exception {
    if (dir != null) {
      FerryCli.run("cluster", "down", "--dir", dir.toString());
      for (JsonObject n : FerryCli.nodes(dir).values()) {
        ProcessHandle.of(n.get("pid").getAsLong()).ifPresent(p ->
            assertThat(p.isAlive()).as("node %s still running after cluster down", n.get("id")).isFalse());
      }
    }
  }

  private AdminClient client(String... addresses) {
    return new AdminClient(List.of(addresses).stream().map(HostAndPort::fromString).toList(),
        Duration.ofSeconds(5));
  }

  private AdminClient all() {
    return client(admins.toArray(String[]::new));
  }

  private String adminOf(String id) throws Exception {
    return FerryCli.nodes(dir).get(id).get("admin").getAsString();
  }

  /** The state as applied on each node, as bytes (deterministic encoding). */
  private Map<String, ClusterStateSnapshot> stateOnEachNode(List<String> ids) throws Exception {
    Map<String, ClusterStateSnapshot> out = new HashMap<>();
    for (String id : ids) {
      try (AdminClient c = client(adminOf(id))) {
        out.put(id, c.clusterStateOf(0));
      }
    }
    return out;
  }

  private void awaitIdenticalState(List<String> ids) {
    // a node that is still starting answers UNAVAILABLE: ask again until the deadline
    await().atMost(Duration.ofSeconds(20)).ignoreException(io.grpc.StatusRuntimeException.class)
        .untilAsserted(() -> {
      Map<String, ClusterStateSnapshot> states = stateOnEachNode(ids);
      ClusterStateSnapshot first = states.get(ids.get(0));
      for (String id : ids) {
        assertThat(states.get(id).toByteArray()).as("state on %s vs %s", id, ids.get(0))
            .isEqualTo(first.toByteArray());
      }
    });
  }

  @Test
  @Order(1)
  void electsALeaderAndRegistersEveryNodeAsActive() {
    try (AdminClient c = all()) {
      StatusReply s = c.status();
      assertThat(s.getLeader()).isIn("n1", "n2", "n3");
      assertThat(s.getMembersList()).extracting(m -> m.getId() + ":" + m.getState())
          .containsExactly("n1:ACTIVE", "n2:ACTIVE", "n3:ACTIVE");
    }
  }

  @Test
  @Order(2)
  void volumesCreatedThroughAFollowerAreIdenticalOnEveryNode() throws Exception {
    String leader;
    try (AdminClient c = all()) {
      leader = c.status().getLeader();
    }
    String follower = List.of("n1", "n2", "n3").stream().filter(id -> !id.equals(leader))
        .findFirst().orElseThrow();
    FerryCli.run("admin", "--cluster", adminOf(follower), "volume", "create", "db-data",
        "--size", "1GiB", "--region-size", "64MiB").assertOk();
    FerryCli.run("admin", "--cluster", adminOf(follower), "volume", "create", "db-log",
        "--size", "256MiB", "--region-size", "16MiB").assertOk();

    awaitIdenticalState(List.of("n1", "n2", "n3"));
    // the CLI's JSON view agrees on every node, and is balanced: 32 portions over 3 members
    List<String> jsonPerNode = new ArrayList<>();
    for (String id : List.of("n1", "n2", "n3")) {
      jsonPerNode.add(FerryCli.run("admin", "--cluster", adminOf(id), "assignment", "--json")
          .assertOk().stdout());
    }
    assertThat(jsonPerNode).containsOnly(jsonPerNode.get(0));
    JsonArray placements = JsonParser.parseString(jsonPerNode.get(0)).getAsJsonArray();
    assertThat(placements).hasSize(32);
    Map<String, Integer> owned = new HashMap<>();
    for (var e : placements) {
      JsonObject p = e.getAsJsonObject();
      assertThat(p.get("owner").getAsString()).isNotEqualTo(p.get("mirror").getAsString());
      owned.merge(p.get("owner").getAsString(), 1, Integer::sum);
    }
    assertThat(owned.values()).allMatch(n -> n == 10 || n == 11);
  }

  @Test
  @Order(3)
  void killingTheLeaderElectsANewOneWithin5sAndTheStateIsIntact() throws Exception {
    ClusterStateSnapshot before;
    String leader;
    try (AdminClient c = all()) {
      leader = c.status().getLeader();
      before = c.clusterState();
    }
    long pid = FerryCli.nodes(dir).get(leader).get("pid").getAsLong();
    List<String> survivors = new ArrayList<>(List.of("n1", "n2", "n3"));
    survivors.remove(leader);
    String[] survivorAdmins = new String[2];
    for (int i = 0; i < 2; i++) {
      survivorAdmins[i] = adminOf(survivors.get(i));
    }

    ProcessHandle process = ProcessHandle.of(pid).orElseThrow();
    long killedAt = System.nanoTime();
    process.destroyForcibly(); // SIGKILL
    AtomicReference<String> newLeader = new AtomicReference<>();
    try (AdminClient c = client(survivorAdmins)) {
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> {
        try {
          String l = c.status().getLeader();
          if (!l.isEmpty() && !l.equals(leader)) {
            newLeader.set(l);
            return true;
          }
        } catch (io.grpc.StatusRuntimeException e) {
          // a survivor may be busy electing; keep asking until the deadline
        }
        return false;
      });
      long electedMillis = (System.nanoTime() - killedAt) / 1_000_000;
      System.out.printf("new leader %s %d ms after kill -9 of %s%n", newLeader.get(), electedMillis, leader);
      assertThat(newLeader.get()).isIn(survivors);
      // the state is intact, and the new leader takes commands
      ClusterStateSnapshot after = c.clusterState();
      assertThat(after.getVolumesList()).isEqualTo(before.getVolumesList());
      assertThat(after.getAssignmentList()).isEqualTo(before.getAssignmentList());
      c.createVolume("made-while-down", 128L << 20, 32L << 20, "");
      c.createVolume("made-while-down-2", 128L << 20, 32L << 20, "");
    }
    awaitIdenticalState(survivors);

    // the killed node comes back, recovers its storage and catches up to the same state
    FerryCli.run("cluster", "start", "--dir", dir.toString(), "--node", leader).assertOk();
    awaitIdenticalState(List.of("n1", "n2", "n3"));
    try (AdminClient c = client(adminOf(leader))) {
      assertThat(c.clusterStateOf(0).getVolumesList()).extracting(v -> v.getName())
          .contains("made-while-down", "made-while-down-2");
    }
  }

  @Test
  @Order(4)
  void aFourthNodeJoinsAsAnActiveMemberAndTakesItsShare() throws Exception {
    FerryCli.run("cluster", "add", "--dir", dir.toString()).assertOk();
    admins.add(adminOf("n4"));
    try (AdminClient c = all()) {
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        StatusReply s = c.status();
        assertThat(s.getMembersList()).anyMatch(m -> m.getId().equals("n4")
            && m.getState() == MemberState.ACTIVE);
        assertThat(s.getRaftPeersList()).extracting(p -> p.getId()).contains("n4");
      });
    }
    awaitIdenticalState(List.of("n1", "n2", "n3", "n4"));
    try (AdminClient c = all()) {
      List<PortionPlacement> placements = c.assignment().getPlacementsList();
      int total = placements.size();
      long ownedByN4 = placements.stream().filter(p -> p.getOwner().equals("n4")).count();
      long mirroredByN4 = placements.stream().filter(p -> p.getMirror().equals("n4")).count();
      assertThat(ownedByN4).isBetween((long) total / 4, (long) (total + 3) / 4);
      assertThat(mirroredByN4).isBetween((long) total / 4, (long) (total + 3) / 4);
    }
  }

  @Test
  @Order(5)
  void badAdminInputIsRejectedWithAReasonAndChangesNothing() throws Exception {
    ClusterStateSnapshot before;
    try (AdminClient c = all()) {
      before = c.clusterState();
    }
    String cluster = String.join(",", admins);
    record Case(String reason, String[] args) {}
    List<Case> cases = List.of(
        new Case("already exists", new String[] {"volume", "create", "db-data", "--size", "1GiB"}),
        new Case("must be positive", new String[] {"volume", "create", "v0", "--size", "0"}),
        new Case("must be positive", new String[] {"volume", "create", "vneg", "--size", "-4GiB"}),
        new Case("larger than the volume size",
            new String[] {"volume", "create", "vsmall", "--size", "1MiB", "--region-size", "2MiB"}),
        new Case("unknown member 'n9'", new String[] {"member", "drain", "n9"}),
        new Case("unknown member 'n9'", new String[] {"member", "remove", "n9"}),
        new Case("is not a size", new String[] {"volume", "create", "vbad", "--size", "12XB"}),
        new Case("does not exist", new String[] {"volume", "delete", "no-such-volume"}));
    for (Case k : cases) {
      List<String> args = new ArrayList<>(List.of("admin", "--cluster", cluster));
      args.addAll(List.of(k.args()));
      FerryCli.Result r = FerryCli.run(args.toArray(String[]::new));
      assertThat(r.exitCode()).as("exit code of %s", args).isNotZero();
      assertThat(r.stderr().strip()).as("stderr of %s", args).contains(k.reason())
          .doesNotContain("\n").startsWith("ferry: ");
      assertThat(r.stdout()).as("stdout of %s", args).isEmpty();
    }
    try (AdminClient c = all()) {
      // epochs keep closing underneath; everything else must be as it was
      assertThat(withoutEpochs(c.clusterState())).as("state after rejected commands")
          .isEqualTo(withoutEpochs(before));
    }
  }

  private static ClusterStateSnapshot withoutEpochs(ClusterStateSnapshot s) {
    return s.toBuilder().clearOpenEpoch().clearEpochs().clearConsistentEpoch()
        .clearConsistentEpochClosedAtMillis().build();
  }
}
