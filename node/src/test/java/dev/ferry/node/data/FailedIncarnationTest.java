package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static dev.ferry.node.data.DataPlaneFixtures.REGION;
import static dev.ferry.node.data.DataPlaneFixtures.apply;
import static dev.ferry.node.data.DataPlaneFixtures.cluster;
import static dev.ferry.node.data.DataPlaneFixtures.markFailed;
import static dev.ferry.node.data.DataPlaneFixtures.options;
import static dev.ferry.node.data.DataPlaneFixtures.regionOwnedBy;
import static dev.ferry.node.data.DataPlaneFixtures.update;
import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import com.google.protobuf.ByteString;
import dev.ferry.control.AssignmentPolicy;
import dev.ferry.control.ClusterState;
import dev.ferry.control.VolumeAssignment;
import dev.ferry.node.journal.FaultyDisk;
import dev.ferry.node.journal.Journal;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import dev.ferry.proto.peer.ForwardRequest;
import dev.ferry.proto.peer.HandoffRequest;
import dev.ferry.proto.peer.MirrorRequest;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN.md §6.1: a member declared FAILED may be alive. Whatever it does next, nothing it
 * numbers or acknowledges may contradict what the survivors decide, and nobody waits for it
 * forever. Each test removes one step of that protocol in thought and shows what it prevents.
 */
class FailedIncarnationTest {
  @TempDir Path dir;

  /**
   * The late-number case (issue 10, cases 1 and 9): this node forwarded a write to owner o,
   * o was declared failed (this node then handed its copies over, this one without a number),
   * and o, resumed, answers with a number. Acknowledging it would lose the write (the new owner
   * never learns of it) and let the new owner give the same number to another write.
   */
  @Test
  void aNumberFromAnOwnerAlreadyHandedOverForIsNotAcknowledged() throws Exception {
    try (FakePeer owner = new FakePeer()) {
      ClusterState before = cluster(Map.of("f", "127.0.0.1:1", "o", owner.address(),
          "m", "127.0.0.1:1"));
      int region = regionOwnedBy(before, "o");
      ClusterState after = apply(before, markFailed("o"));
      AtomicReference<ClusterState> state = new AtomicReference<>(before);
      try (Journal journal = Journal.open(dir, options(new FaultyDisk()), r -> { });
          DataPlane data = new DataPlane("f", journal, state::get, 1 << 20, List.of())) {
        data.stateChanged(before);
        data.freeze(before.openEpoch() - 1).get(10, TimeUnit.SECONDS);
        byte[] bytes = {7, 7};
        CompletableFuture<SequenceNumber> ack = data.write("p", 1, "v", region * REGION,
            ByteString.copyFrom(bytes), IngestProbe.crc(bytes));
        await().atMost(Duration.ofSeconds(10)).until(() -> owner.forwards.size() == 1);
        state.set(after);
        data.stateChanged(after);
        data.heldCount().get(10, TimeUnit.SECONDS); // the failure is handled
        owner.answerForwards(before.openEpoch(), 1); // the resumed owner answers
        Throwable e = catchThrowable(() -> ack.get(10, TimeUnit.SECONDS));
        assertThat(e).as("not acknowledged").isNotNull();
        Status s = Failures.status(e.getCause());
        assertThat(s.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        // the stream to o is given up once its failure is handled; an answer already on its way
        // is refused by recordSequence (the handoff went without its number)
        assertThat(s.getDescription()).containsAnyOf("declared failed before its number",
            "o was declared FAILED");
      }
    }
  }

  /**
   * A mirror copy whose journal append is still being forced when the owner's failure is
   * handled may yet be acknowledged by the (paused, then resumed) owner: the handoff waits for
   * it instead of skipping it. Here this node is the promoted mirror, so it hands over to itself
   * and must end up owning the copy.
   */
  @Test
  void aMirrorCopyStillBeingWrittenIsHandedOverOnceDurable() throws Exception {
    ClusterState before = cluster(Map.of("m", "127.0.0.1:1", "b", "127.0.0.1:1",
        "x", "127.0.0.1:1"));
    ClusterState after = apply(before, markFailed("x"));
    int region = -1;
    String promoted = null;
    VolumeAssignment was = before.assignment().get("v");
    for (int r = 0; r < was.regions() && promoted == null; r++) {
      String newOwner = after.assignment().get("v").owner(r);
      if (was.owner(r).equals("x") && was.mirrors(r).contains(newOwner)) {
        region = r;
        promoted = newOwner;
      }
    }
    assertThat(promoted).as("a portion of x goes to its mirror").isNotNull();
    FaultyDisk disk = new FaultyDisk();
    AtomicReference<ClusterState> state = new AtomicReference<>(before);
    try (Journal journal = Journal.open(dir, options(disk), r -> { });
        FaultyDisk.Gate gate = new FaultyDisk.Gate();
        DataPlane data = new DataPlane(promoted, journal, state::get, 1 << 20, List.of())) {
      data.stateChanged(before);
      data.freeze(before.openEpoch() - 1).get(10, TimeUnit.SECONDS);
      disk.beforeForce(gate.holds());
      byte[] bytes = {5};
      CompletableFuture<SequenceNumber> copied = data.acceptMirror(MirrorRequest.newBuilder()
          .setAssignmentVersion(before.assignmentVersion()).setSender("x").setId(1)
          .setUpdate(update(region, bytes, before.openEpoch(), 1)).build());
      await().atMost(Duration.ofSeconds(10)).until(() ->
          String.valueOf(data.describe("p", 1).get()).endsWith(" pending"));
      state.set(after);
      data.stateChanged(after);
      data.heldCount().get(10, TimeUnit.SECONDS);
      gate.open();
      assertThat(copied.get(10, TimeUnit.SECONDS).n()).isEqualTo(1);
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
          assertThat(data.describe("p", 1).get()).startsWith("OWNED " + before.openEpoch() + " 1"));
    }
  }

  /** A member declared FAILED gets no copy from anyone: it could count it towards an ack. */
  @Test
  void copiesFromAFailedSenderAreRefused() throws Exception {
    ClusterState before = cluster(Map.of("m", "127.0.0.1:1", "o", "127.0.0.1:1",
        "x", "127.0.0.1:1"));
    // x fails; m mirrors some portion o owns: x's copy of it would be refused by version, so
    // send it with the current version: only the sender check refuses it
    ClusterState after = apply(before, markFailed("x"));
    int mirrored = -1;
    VolumeAssignment a = after.assignment().get("v");
    for (int r = 0; r < a.regions() && mirrored < 0; r++) {
      mirrored = a.mirrors(r).contains("m") ? r : -1;
    }
    int region = mirrored;
    try (Journal journal = Journal.open(dir, options(new FaultyDisk()), r -> { });
        DataPlane data = new DataPlane("m", journal, () -> after, 1 << 20, List.of())) {
      byte[] bytes = {3};
      Throwable e = catchThrowable(() -> data.acceptMirror(MirrorRequest.newBuilder()
          .setAssignmentVersion(after.assignmentVersion()).setSender("x").setId(1)
          .setUpdate(update(region, bytes, after.openEpoch(), 1)).build())
          .get(10, TimeUnit.SECONDS));
      Status s = Failures.status(e.getCause());
      assertThat(s.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(s.getDescription()).contains("sender x is FAILED");
      assertThat(data.describe("p", 1).get()).as("nothing stored").isNull();
    }
  }

  /** A peer that keeps its connection but never answers (paused) fails the request in time. */
  @Test
  void aRequestToAPeerThatNeverAnswersFailsAtItsDeadline() throws Exception {
    try (FakePeer silent = new FakePeer(); PeerLinks links = new PeerLinks(Duration.ofMillis(300))) {
      byte[] bytes = {1};
      CompletableFuture<SequenceNumber> answer = CompletableFuture.supplyAsync(() -> links.forward(
          "o", HostAndPort.fromString(silent.address()), ForwardRequest.newBuilder()
              .setSender("f").setUpdate(update(0, bytes, 0, 0)))).thenCompose(f -> f);
      Throwable e = catchThrowable(() -> answer.get(10, TimeUnit.SECONDS));
      assertThat(silent.forwards).hasSize(1);
      Status s = Status.fromThrowable(e.getCause());
      assertThat(s.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(s.getDescription()).contains("no answer from o within 300 ms");
    }
  }

  /**
   * Requests to a member declared FAILED fail at once, not at their deadline: a partitioned
   * member keeps its connection, and each Seal waits for the requests in flight.
   */
  @Test
  void requestsToAMemberGivenUpFailAtOnce() throws Exception {
    try (FakePeer silent = new FakePeer(); PeerLinks links = new PeerLinks(Duration.ofMinutes(5))) {
      byte[] bytes = {1};
      java.util.concurrent.ExecutorService dataThread =
          java.util.concurrent.Executors.newSingleThreadExecutor();
      try {
        CompletableFuture<SequenceNumber> answer = CompletableFuture.supplyAsync(() ->
            links.forward("o", HostAndPort.fromString(silent.address()), ForwardRequest
                .newBuilder().setSender("f").setUpdate(update(0, bytes, 0, 0))), dataThread)
            .thenCompose(f -> f);
        await().atMost(Duration.ofSeconds(10)).until(() -> silent.forwards.size() == 1);
        CompletableFuture.runAsync(() -> links.giveUp("o", "was declared FAILED"), dataThread)
            .get(10, TimeUnit.SECONDS);
        Throwable e = catchThrowable(() -> answer.get(10, TimeUnit.SECONDS));
        Status s = Status.fromThrowable(e.getCause());
        assertThat(s.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(s.getDescription()).contains("o was declared FAILED");
      } finally {
        dataThread.shutdownNow();
      }
    }
  }

  /**
   * A node whose applied state lags does not seal an epoch before it has handled the failures
   * the coordinator names: its re-mirroring and handoff waits must be part of the epoch.
   */
  @Test
  void sealWaitsUntilTheNamedFailuresAreHandled() throws Exception {
    ClusterState before = cluster(Map.of("n1", "127.0.0.1:1", "n2", "127.0.0.1:1",
        "x", "127.0.0.1:1"));
    ClusterState after = apply(before, markFailed("x"));
    AtomicReference<ClusterState> state = new AtomicReference<>(before);
    try (Journal journal = Journal.open(dir, options(new FaultyDisk()), r -> { });
        DataPlane data = new DataPlane("n2", journal, state::get, 1 << 20, List.of())) {
      data.stateChanged(before);
      long epoch = before.openEpoch();
      data.freeze(epoch).get(10, TimeUnit.SECONDS);
      CompletableFuture<?> seal = data.seal(epoch, List.of("x#1"));
      await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> !seal.isDone());
      state.set(after); // applied, not handled yet; n1's handoff (nothing) arrives meanwhile
      data.acceptHandoff(HandoffRequest.newBuilder().setAssignmentVersion(after.assignmentVersion())
          .setSender("n1").setFailed("x").setFailedIncarnation(1).setDone(true).build()).get(10, TimeUnit.SECONDS);
      assertThat(seal.isDone()).isFalse();
      data.stateChanged(after);
      assertThat(seal.get(10, TimeUnit.SECONDS)).isNotNull();
    }
  }

  /**
   * A node that restarts while a failure is unsettled has lost its wait for the handoff: at
   * its first barrier every portion it owns waits again, and it asks the live members to send
   * their handoff again. Without this it would number writes of a portion taken over before the
   * failed owner's updates are here, and give their numbers to other writes.
   */
  @Test
  void aRestartedNodeWaitsForTheHandoffsOfUnsettledFailuresAndAsksForThem() throws Exception {
    try (FakePeer other = new FakePeer()) {
      ClusterState before = cluster(Map.of("s", "127.0.0.1:1", "o", other.address(),
          "x", "127.0.0.1:1"));
      ClusterState after = apply(before, markFailed("x"));
      int region = regionOwnedBy(after, "s");
      try (Journal journal = Journal.open(dir, options(new FaultyDisk()), r -> { });
          DataPlane data = new DataPlane("s", journal, () -> after, 1 << 20, List.of())) {
        data.stateChanged(after); // as replayed at start: x failed before this process began
        data.freeze(after.openEpoch() - 1).get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> !other.resendRequests.isEmpty());
        assertThat(other.resendRequests.get(0).getFailed()).isEqualTo("x");
        assertThat(other.resendRequests.get(0).getSender()).isEqualTo("s");
        byte[] bytes = {4};
        CompletableFuture<SequenceNumber> ack = data.write("p", 9, "v", region * REGION,
            ByteString.copyFrom(bytes), IngestProbe.crc(bytes));
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(3))
            .until(() -> !ack.isDone());
        data.acceptHandoff(HandoffRequest.newBuilder().setAssignmentVersion(after.assignmentVersion())
            .setSender("o").setFailed("x").setFailedIncarnation(1).setDone(true).build()).get(10, TimeUnit.SECONDS);
        assertThat(ack.get(10, TimeUnit.SECONDS).epoch()).isGreaterThanOrEqualTo(after.openEpoch());
      }
    }
  }

  /**
   * A member that fails, rejoins and fails again: the handoffs for its first failure must not
   * count for the second (they were keyed by member id, so the new owner took its portions over
   * at once with nothing handed over and amended acknowledged updates away).
   */
  @Test
  void theHandoffOfAnEarlierFailureOfTheSameMemberDoesNotCountForALaterOne() throws Exception {
    try (FakePeer other = new FakePeer()) {
      ClusterState s0 = cluster(Map.of("s", "127.0.0.1:1", "o", other.address(),
          "x", "127.0.0.1:1"));
      ClusterState s1 = apply(s0, markFailed("x"));
      ClusterState rejoined = apply(dev.ferry.node.SettledFailures.settle(s1),
          Command.newBuilder().setRegisterMember(RegisterMember
          .newBuilder().setId("x").setAddress("127.0.0.1:1").setIncarnation(2)).build());
      ClusterState s2 = apply(rejoined, Command.newBuilder().setReassignPortions(ReassignPortions
          .newBuilder().setBaseVersion(rejoined.assignmentVersion()).addActivate("x")
          .addAllChanges(AssignmentPolicy.plan(rejoined, List.of("x")))).build());
      ClusterState s3 = apply(s2, markFailed("x"));
      int region = -1;
      for (int r = 0; r < 12 && region < 0; r++) {
        boolean moved = s2.assignment().get("v").owner(r).equals("x")
            && s3.assignment().get("v").owner(r).equals("s");
        region = moved ? r : -1;
      }
      assertThat(region).as("s takes over a portion of x's second incarnation").isNotNegative();
      AtomicReference<ClusterState> state = new AtomicReference<>(s0);
      try (Journal journal = Journal.open(dir, options(new FaultyDisk()), r -> { });
          DataPlane data = new DataPlane("s", journal, state::get, 1 << 20, List.of())) {
        data.stateChanged(s0);
        data.freeze(s0.openEpoch() - 1).get(10, TimeUnit.SECONDS);
        for (ClusterState next : List.of(s1, rejoined, s2)) {
          state.set(next);
          data.stateChanged(next);
        }
        data.acceptHandoff(HandoffRequest.newBuilder().setAssignmentVersion(s1.assignmentVersion())
            .setSender("o").setFailed("x").setFailedIncarnation(1).setDone(true).build())
            .get(10, TimeUnit.SECONDS);
        state.set(s3);
        data.stateChanged(s3);
        byte[] bytes = {6};
        CompletableFuture<SequenceNumber> ack = data.write("p", 5, "v", region * REGION,
            ByteString.copyFrom(bytes), IngestProbe.crc(bytes));
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(3))
            .until(() -> !ack.isDone());
        data.acceptHandoff(HandoffRequest.newBuilder().setAssignmentVersion(s3.assignmentVersion())
            .setSender("o").setFailed("x").setFailedIncarnation(2).setDone(true).build())
            .get(10, TimeUnit.SECONDS);
        assertThat(ack.get(10, TimeUnit.SECONDS)).isNotNull();
      }
    }
  }

  /**
   * While a restarted node replays its Raft log, the failures it sees are history: it hands
   * nothing over until the replay is done, then only for failures that are not settled. A
   * restart re-sent the copies of every failure in its log (3,749 updates in one soak run).
   */
  @Test
  void aNodeReplayingItsRaftLogHandsOverOnlyOnceLoadedAndOnlyForUnsettledFailures()
      throws Exception {
    try (FakePeer other = new FakePeer()) {
      ClusterState before = cluster(Map.of("s", "127.0.0.1:1", "o", other.address(),
          "x", "127.0.0.1:1", "y", "127.0.0.1:1"));
      ClusterState xFailed = apply(before, markFailed("x"));
      // x's failure settles: the epoch it failed in and the next one are applied
      ClusterState settled = xFailed;
      for (int i = 0; i < 2; i++) {
        long e = settled.openEpoch();
        settled = apply(settled, Command.newBuilder().setCloseEpoch(
            dev.ferry.proto.control.CloseEpoch.newBuilder().setEpoch(e).setClosedAtMillis(1))
            .build());
        settled = apply(settled, Command.newBuilder().setCommitEpoch(
            dev.ferry.proto.control.CommitEpoch.newBuilder().setEpoch(e)).build());
      }
      assertThat(settled.members().get("x").failureUnsettled(settled.consistentEpoch())).isFalse();
      ClusterState yFailed = apply(settled, markFailed("y"));
      java.util.concurrent.atomic.AtomicBoolean loaded =
          new java.util.concurrent.atomic.AtomicBoolean(false);
      try (Journal journal = Journal.open(dir, options(new FaultyDisk()), r -> { });
          DataPlane data = new DataPlane("s", journal, () -> yFailed, 1 << 20, List.of())) {
        data.waitForControlState(loaded::get);
        for (ClusterState replayed : List.of(before, xFailed, settled, yFailed)) {
          data.stateChanged(replayed);
        }
        await().during(Duration.ofMillis(700)).atMost(Duration.ofSeconds(5))
            .until(() -> other.handoffs.isEmpty());
        loaded.set(true);
        data.stateChanged(yFailed);
        await().atMost(Duration.ofSeconds(10)).until(() -> !other.handoffs.isEmpty());
        await().during(Duration.ofMillis(700)).atMost(Duration.ofSeconds(5))
            .until(() -> other.handoffs.stream().noneMatch(h -> h.getFailed().equals("x")));
        assertThat(other.handoffs).extracting(HandoffRequest::getFailed).containsOnly("y");
      }
    }
  }


  /**
   * Soak of 2026-12-07 (run 4): an owner's Seal waited for a copy in flight, the owner then
   * learned it had been declared FAILED and dropped what it held, and the Seal answered with
   * empty watermarks. The epoch closed on that answer had no watermark for the owner's
   * portions, so the updates the survivors took over were never staged: acknowledged writes
   * lost. A Seal that outlives this node's own failure must fail instead.
   */
  @Test
  void aSealThatOutlivesThisNodesOwnFailureFailsRatherThanReportNothing() throws Exception {
    try (FakePeer mirror = new FakePeer()) {
      ClusterState before = cluster(Map.of("o", "127.0.0.1:1", "m", mirror.address()));
      int region = regionOwnedBy(before, "o");
      ClusterState after = apply(before, markFailed("o"));
      AtomicReference<ClusterState> state = new AtomicReference<>(before);
      FaultyDisk disk = new FaultyDisk();
      try (Journal journal = Journal.open(dir, options(disk), r -> { });
          DataPlane data = new DataPlane("o", journal, state::get, 1 << 20, List.of());
          FaultyDisk.Gate force = new FaultyDisk.Gate()) {
        data.stateChanged(before);
        long epoch = before.openEpoch();
        data.freeze(epoch - 1).get(10, TimeUnit.SECONDS);
        disk.beforeForce(force.holds()); // the owner's own copy stays in flight
        byte[] bytes = {3, 4};
        data.write("p", 1, "v", region * REGION, ByteString.copyFrom(bytes), IngestProbe.crc(bytes));
        // numbered in `epoch` (on the data thread) before the Freeze that closes it
        assertThat(data.describe("p", 1).get(10, TimeUnit.SECONDS))
            .startsWith("OWNED " + epoch + " 1 ").endsWith(" pending");
        data.freeze(epoch).get(10, TimeUnit.SECONDS);
        CompletableFuture<List<dev.ferry.proto.control.Watermark>> sealed = data.seal(epoch);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
            .until(() -> !sealed.isDone()); // it waits for that copy
        state.set(after);
        data.stateChanged(after); // this node learns it was declared failed, drops what it held
        data.heldCount().get(10, TimeUnit.SECONDS);
        force.open();
        Throwable e = catchThrowable(() -> sealed.get(10, TimeUnit.SECONDS));
        assertThat(e).as("the seal fails; it returned %s before", sealed.isCompletedExceptionally()
            ? "-" : sealed.getNow(null)).isNotNull();
        Status status = Failures.status(e.getCause());
        assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(status.getDescription()).contains("was declared FAILED during the seal");
      }
    }
  }
}
