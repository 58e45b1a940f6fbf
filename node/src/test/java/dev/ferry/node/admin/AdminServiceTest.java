package dev.ferry.node.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.ferry.client.AdminClient;
import dev.ferry.node.InProcessCluster;
import dev.ferry.proto.admin.StatusReply;
import dev.ferry.proto.control.ClusterStateSnapshot;
import dev.ferry.proto.control.MemberState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The Admin service over real gRPC against a 3-node Ratis cluster inside the test JVM. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdminServiceTest {
  @TempDir static Path dir;
  InProcessCluster cluster;

  @BeforeAll
  void start() throws Exception {
    cluster = new InProcessCluster(dir, 3);
  }

  @AfterAll
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void statusNamesTheLeaderEveryMemberAndTheRaftPeers() {
    try (AdminClient c = cluster.client()) {
      StatusReply s = c.status();
      assertThat(s.getLeader()).isIn("n1", "n2", "n3");
      assertThat(s.getMembersList()).extracting(m -> m.getId() + "/" + m.getState())
          .containsExactly("n1/ACTIVE", "n2/ACTIVE", "n3/ACTIVE");
      assertThat(s.getRaftPeersList()).extracting(p -> p.getId()).containsExactlyInAnyOrder("n1", "n2", "n3");
      assertThat(s.getOpenEpoch()).isPositive();
    }
  }

  @Test
  void aCommandSentToAFollowerIsAppliedAndVisibleOnThatFollowerWhenItReturns() {
    try (AdminClient follower = InProcessCluster.client(List.of(cluster.followerAdmin()))) {
      var reply = follower.createVolume("via-follower", 1L << 30, 64L << 20, "");
      assertThat(reply.getLogIndex()).isPositive();
      // read-your-writes on the node that answered: no waiting needed
      assertThat(follower.listVolumes().getVolumesList()).extracting(v -> v.getName())
          .contains("via-follower");
      assertThat(follower.assignment().getPlacementsList())
          .filteredOn(p -> p.getVolume().equals("via-follower")).hasSize(16)
          .allSatisfy(p -> assertThat(p.getOwner()).isNotEqualTo(p.getMirror()));
    }
  }

  @Test
  void theDefaultRegionSizeAppliesWhenNoneIsGiven() {
    try (AdminClient c = cluster.client()) {
      c.createVolume("default-regions", 256L << 20, 0, "");
      assertThat(c.listVolumes().getVolumesList()).filteredOn(v -> v.getName().equals("default-regions"))
          .singleElement().satisfies(v -> assertThat(v.getRegionSizeBytes()).isEqualTo(64L << 20));
    }
  }

  private void assertRejected(Consumer<AdminClient> call, Status.Code code, String reason) {
    try (AdminClient c = cluster.client()) {
      ClusterStateSnapshot before = c.clusterState();
      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, () -> call.accept(c));
      assertThat(e).as("expected %s: %s", code, reason).isNotNull();
      assertThat(e.getStatus().getCode()).isEqualTo(code);
      assertThat(e.getStatus().getDescription()).isEqualTo(reason);
      // epochs keep closing underneath; everything else must be as it was
      assertThat(withoutEpochs(c.clusterState())).as("state after a rejected command")
          .isEqualTo(withoutEpochs(before));
    }
  }

  private static ClusterStateSnapshot withoutEpochs(ClusterStateSnapshot s) {
    return s.toBuilder().clearOpenEpoch().clearEpochs().clearConsistentEpoch()
        .clearConsistentEpochClosedAtMillis().build();
  }

  @Test
  void rejectedCommandsCarryTheStateMachinesReasonVerbatimAndChangeNothing() {
    try (AdminClient c = cluster.client()) {
      c.createVolume("taken", 1L << 30, 64L << 20, "");
    }
    assertRejected(c -> c.createVolume("taken", 1L << 30, 64L << 20, ""),
        Status.Code.ALREADY_EXISTS, "volume taken already exists");
    assertRejected(c -> c.createVolume("zero", 0, 64L << 20, ""),
        Status.Code.INVALID_ARGUMENT, "volume size must be positive, got 0 bytes");
    assertRejected(c -> c.createVolume("negative", -5, 64L << 20, ""),
        Status.Code.INVALID_ARGUMENT, "volume size must be positive, got -5 bytes");
    assertRejected(c -> c.createVolume("tiny", 1 << 20, 2 << 20, ""),
        Status.Code.INVALID_ARGUMENT,
        "region size 2097152 bytes is larger than the volume size 1048576 bytes");
    // issue 10: 1,048,576 one-byte portions once stopped the cluster; the minimum is the node's
    // volume.min.region.size (InProcessCluster sets 4KiB), carried in the command
    assertRejected(c -> c.createVolume("dust", 1 << 20, 1, ""),
        Status.Code.INVALID_ARGUMENT,
        "region size 1 B is below the minimum 4 KiB (volume.min.region.size)");
    assertRejected(c -> c.createVolume("wide", 65_537L << 20, 1 << 20, ""),
        Status.Code.INVALID_ARGUMENT, "volume would have 65537 portions, more than the maximum"
            + " 65536 per volume (volume.max.portions); use a region size of at least 2 MiB");
    assertRejected(c -> c.drainMember("n9"), Status.Code.NOT_FOUND, "unknown member 'n9'");
    assertRejected(c -> c.removeMember("n2"), Status.Code.FAILED_PRECONDITION,
        "member n2 is ACTIVE; drain it first (or it must have failed)");
    assertRejected(c -> c.deleteVolume("nothing"), Status.Code.NOT_FOUND,
        "volume nothing does not exist");
  }

  @Test
  void aCtsPeriodOutOfRangeIsAnInvalidArgument() {
    assertRejected(c -> c.setCtsPeriod(5), Status.Code.INVALID_ARGUMENT,
        "cts period must be between 10 and 60000 ms (or 0: each node's cts.period), got 5 ms");
    assertRejected(c -> c.setCtsPeriod(60_001), Status.Code.INVALID_ARGUMENT,
        "cts period must be between 10 and 60000 ms (or 0: each node's cts.period), got 60001 ms");
  }

  @Test
  void theCtsPeriodIsSetForTheWholeClusterAndResetToEachNodesConfig() {
    try (AdminClient c = cluster.client()) {
      try {
        assertThat(c.setCtsPeriod(100).getLogIndex()).isPositive();
        // read-your-writes on the node that answered: its effective period is the new one
        assertThat(c.epochs().getCtsPeriodMillis()).isEqualTo(100);
        awaitCtsPeriodOnEveryNode(c, 100, 100);
      } finally {
        c.setCtsPeriod(0);
      }
      assertThat(c.epochs().getCtsPeriodMillis()).as("back to cts.period").isEqualTo(250);
      awaitCtsPeriodOnEveryNode(c, 0, 250);
    }
  }

  /** Every node has applied {@code stateMillis} and its Epochs reply shows {@code effective}. */
  private void awaitCtsPeriodOnEveryNode(AdminClient c, long stateMillis, long effective) {
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      for (int i = 0; i < cluster.nodes.size(); i++) {
        assertThat(c.clusterStateOf(i).getCtsPeriodMillis()).as("node %d", i)
            .isEqualTo(stateMillis);
        assertThat(c.epochsOf(i).getCtsPeriodMillis()).as("node %d", i).isEqualTo(effective);
      }
    });
  }

  @Test
  void everyNodeConvergesOnTheSameStateBytes() {
    try (AdminClient c = cluster.client()) {
      c.createVolume("converge", 512L << 20, 64L << 20, "");
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        byte[] first = c.clusterStateOf(0).toByteArray();
        assertThat(c.clusterStateOf(1).toByteArray()).isEqualTo(first);
        assertThat(c.clusterStateOf(2).toByteArray()).isEqualTo(first);
      });
      assertThat(c.status().getMembersList()).allMatch(m -> m.getState() == MemberState.ACTIVE);
    }
  }

  @Test
  void everyNodeServesTheStandardHealthServiceAsServingOnceItIsAnActiveMember() {
    for (String address : cluster.admins) {
      io.grpc.ManagedChannel ch = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
          .forTarget(address).usePlaintext().build();
      try {
        var health = io.grpc.health.v1.HealthGrpc.newBlockingStub(ch);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
            health.check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance()).getStatus())
            .isEqualTo(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING));
      } finally {
        ch.shutdownNow();
      }
    }
  }

  @Test
  void theStateMachinePublishesEveryNewStateToItsListeners() {
    java.util.List<dev.ferry.control.ClusterState> seen =
        new java.util.concurrent.CopyOnWriteArrayList<>();
    cluster.nodes.get(2).raft().stateMachine().addListener(seen::add);
    assertThat(seen).as("called at once with the current state").hasSize(1);
    try (AdminClient c = cluster.client()) {
      c.createVolume("published", 128L << 20, 64L << 20, "");
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(seen.get(seen.size() - 1).volumes()).containsKey("published"));
  }

  @Test
  void epochsCloseAndApplyAndTheLeaderReportsTheCoordinationPause() {
    try (AdminClient c = cluster.client()) {
      long open = c.status().getOpenEpoch();
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        StatusReply s = c.status();
        assertThat(s.getOpenEpoch()).isGreaterThan(open + 2);
        // no volume has a secondary: a closed epoch is applied as soon as it is committed
        assertThat(s.getConsistentEpoch()).isGreaterThan(open);
        assertThat(s.getRpoMillis()).isNotNegative();
      });
      String leader = c.status().getLeader();
      int index = Integer.parseInt(leader.substring(1)) - 1;
      var e = c.epochsOf(index);
      assertThat(e.getLeader()).isTrue();
      assertThat(e.getBarriers()).isPositive();
      assertThat(e.getPauseP99Micros()).isGreaterThanOrEqualTo(e.getPauseP50Micros()).isPositive();
      assertThat(e.getRecentList()).isNotEmpty();
      assertThat(e.getCtsPeriodMillis()).isEqualTo(250);
      var follower = c.epochsOf((index + 1) % 3);
      assertThat(follower.getLeader()).isFalse();
      assertThat(follower.getBarriers()).isZero();
    }
  }
}
