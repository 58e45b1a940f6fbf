package dev.ferry.node.coordinator;

import com.google.common.util.concurrent.ListenableFuture;
import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.node.raft.CommandRejectedException;
import dev.ferry.node.raft.RaftNode;
import dev.ferry.proto.admin.EpochSize;
import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RejectCode;
import dev.ferry.proto.control.RoundMember;
import dev.ferry.proto.control.Watermark;
import dev.ferry.proto.peer.FreezeReply;
import dev.ferry.proto.peer.FreezeRequest;
import dev.ferry.proto.peer.PeerGrpc;
import dev.ferry.proto.peer.SealReply;
import dev.ferry.proto.peer.SealRequest;
import dev.ferry.proto.peer.ThawRequest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The epoch barrier of DESIGN.md §5, run by the leader's coordinator once per period:
 * Freeze(N) to every member that takes writes → once all answered, Thaw(N) → Seal(N) collects
 * the watermarks once epoch N's copies are durable → CloseEpoch(N, watermarks) through Raft.
 *
 * <p>The held-ack window is only Freeze to Thaw (one round trip): an ack of N+1 is released
 * after every member stopped numbering into N, which is all dependent-write order needs; the
 * wait for copies and the Raft commit happen after the acks flow again. Every decision is in
 * the Raft log, so a new leader resumes from the replicated state: it freezes the open epoch
 * again (Freeze, Thaw and Seal are idempotent) and closes it.
 *
 * <p>Threading: runs only on the coordinator's barrier thread, which owns the channels.
 */
final class EpochBarrier implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(EpochBarrier.class);
  // Freeze is answered at once; a member that does not answer within this holds everyone's
  // acks of the next epoch, so keep it short (the failure detector declares it failed)
  private static final Duration FREEZE_DEADLINE = Duration.ofMillis(500);
  private static final Duration SEAL_DEADLINE = Duration.ofSeconds(5);
  private static final Duration RAFT_DEADLINE = Duration.ofSeconds(5);

  private final RaftNode raft;
  private final Clock clock;
  private final EpochStats stats;
  private final BarrierHook hook;
  private final Channels channels = new Channels();
  /** Told of a member that did not answer a Freeze (the failure detector checks it at once). */
  private final java.util.function.BiConsumer<String, String> suspect;
  private final int maxPendingEpochs;
  /** Held back by {@link #maxPendingEpochs} since it was last logged, until the backlog halves. */
  private boolean holding;
  private long failuresLogged;
  /** The last failed step (epoch, step, member, reason): a new one is always logged. */
  private String lastFailure = "";

  /**
   * @param maxPendingEpochs closed epochs not yet applied at every secondary at most
   *     ({@code cts.max.pending}); past it a round closes nothing unless the assignment changes
   */
  EpochBarrier(RaftNode raft, Clock clock, EpochStats stats, BarrierHook hook,
      java.util.function.BiConsumer<String, String> suspect, int maxPendingEpochs) {
    this.suspect = suspect;
    this.maxPendingEpochs = maxPendingEpochs;
    this.raft = raft;
    this.clock = clock;
    this.stats = stats;
    this.hook = hook;
  }

  /** One round: close the open epoch. */
  void run() {
    long term = raft.leaderTerm();
    if (term == 0) {
      return; // not the ready leader (any more)
    }
    ClusterState s = raft.state();
    List<Member> members = BarrierPlan.roundMembers(s);
    if (members.isEmpty()) {
      return;
    }
    ReassignPortions change = BarrierPlan.plannedChange(s);
    boolean hold = BarrierPlan.holdsBack(s, change, maxPendingEpochs);
    // logged once per stretch: a pipeline at its limit holds and closes by turns
    if (hold && !holding) {
      holding = true;
      LOG.warn("epoch {} stays open: {} closed epochs are not applied yet (cts.max.pending"
          + " {}); the consistent point waits for {}", s.openEpoch(), s.epochs().size(),
          maxPendingEpochs, s.consistentPointWaitsFor());
    } else if (holding && s.epochs().size() <= maxPendingEpochs / 2) {
      holding = false;
      LOG.info("epoch {}: the secondaries caught up ({} closed epochs not applied yet)",
          s.openEpoch(), s.epochs().size());
    }
    if (hold) {
      stats.heldBack();
      return;
    }
    closeEpoch(term, s.openEpoch(), members, change);
  }

  /** @param term the Raft term this node leads in: the close is refused in any other */
  private void closeEpoch(long term, long epoch, List<Member> members, ReassignPortions change) {
    // the cut: everything acknowledged before this moment is in this epoch or an earlier one
    long closedAt = clock.millis();
    long start = System.nanoTime();
    FreezeRequest freeze = FreezeRequest.newBuilder().setEpoch(epoch)
        .addAllMoving(BarrierPlan.movingPortions(raft.state(), change)).build();
    List<FreezeReply> frozen = askAll(members, "freeze", epoch, FREEZE_DEADLINE,
        peer -> peer.freeze(freeze));
    if (frozen == null) {
      // a member that cannot be frozen stops the barrier: releasing acks of the next epoch
      // while it may still number updates in this one would break dependent-write order
      return;
    }
    ReassignPortions planned = change;
    change = BarrierPlan.changeAfterFreeze(change, frozen);
    if (planned != null && change == null) {
      LOG.info("epoch {}: {} numbered in epoch {} already; closing without the planned assignment"
          + " change (planned again at the next close)", epoch, frozen.stream()
              .flatMap(r -> r.getNumberedAfterList().stream())
              .map(r -> r.getVolume() + "/" + r.getRegion()).toList(), epoch + 1);
    }
    hook.reached(BarrierHook.FREEZE, epoch);
    ThawRequest thaw = ThawRequest.newBuilder().setEpoch(epoch).build();
    for (Member m : members) {
      PeerGrpc.newFutureStub(channels.to(m.address()))
          .withDeadlineAfter(FREEZE_DEADLINE.toMillis(), TimeUnit.MILLISECONDS).thaw(thaw);
    }
    // the coordination pause: Freeze sent to Thaw sent (acks of the next epoch wait this long)
    long pauseMicros = (System.nanoTime() - start) / 1000;
    ClusterState now = raft.state();
    SealRequest seal = SealRequest.newBuilder().setEpoch(epoch)
        .addAllFailedMembers(BarrierPlan.unsettledFailures(now))
        .build();
    List<SealReply> sealed = askAll(members, "seal", epoch, SEAL_DEADLINE, peer -> peer.seal(seal));
    if (sealed == null) {
      return; // a member restarted since the freeze, or is slow: freeze again next period
    }
    String failedMeanwhile = BarrierPlan.failedDuringTheRound(raft.state(), members);
    if (failedMeanwhile != null) {
      // its seal may say nothing of what it numbered (dropped once it learned of its failure):
      // the survivors take its portions over and seal them in the next round
      LOG.info("epoch {}: {} was declared failed during the round; closing it next period",
          epoch, failedMeanwhile);
      return;
    }
    List<Watermark> marks = new ArrayList<>();
    sealed.forEach(r -> marks.addAll(r.getWatermarksList()));
    List<Watermark> merged = BarrierPlan.merge(raft.state(), marks);
    CloseEpoch.Builder close = CloseEpoch.newBuilder().setEpoch(epoch).setClosedAtMillis(closedAt)
        .addAllWatermarks(merged).setLeaderTerm(term)
        .addAllSealedBy(members.stream().map(m -> RoundMember.newBuilder().setId(m.id())
            .setIncarnation(m.incarnation()).build()).toList());
    if (change != null) {
      close.setNextAssignment(change);
    }
    boolean closed = submitClose(close);
    if (!closed && change != null && raft.state().openEpoch() == epoch) {
      // the change was refused (the assignment moved since it was planned): close without it;
      // the moving portions' writes then go on by the unchanged assignment
      LOG.info("epoch {}: closing without the planned assignment change", epoch);
      change = null;
      closed = submitClose(close.clearNextAssignment());
    }
    if (!closed) {
      return; // still open: the next period tries again (or an earlier leader closed it)
    }
    if (change != null) {
      LOG.info("epoch {}: closed with assignment version {}: activated {}, moved {} placements",
          epoch, raft.state().assignmentVersion(), change.getActivateList(), change.getChangesCount());
    }
    stats.barrierDone(pauseMicros, EpochSize.newBuilder().setEpoch(epoch)
        .setUpdates(merged.stream().mapToLong(Watermark::getCount).sum())
        .setBytes(merged.stream().mapToLong(Watermark::getBytes).sum())
        .setClosedAtMillis(closedAt).build());
  }

  /** Commits CloseEpoch; false if it was refused or not committed (logged). */
  private boolean submitClose(CloseEpoch.Builder close) {
    try {
      raft.submit(Command.newBuilder().setCloseEpoch(close).build())
          .get(RAFT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (!(cause instanceof CommandRejectedException r && r.code() == RejectCode.CONFLICT)) {
        LOG.warn("epoch {}: CloseEpoch failed: {}", close.getEpoch(), String.valueOf(cause));
      }
      return false; // CONFLICT: closed already (by an earlier leader), or the change is stale
    } catch (TimeoutException e) {
      LOG.warn("epoch {}: CloseEpoch not committed within {}", close.getEpoch(), RAFT_DEADLINE);
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Sends one request to every member at once and waits for all answers; null (and logged) if
   * any fails or misses the deadline.
   */
  private <T> List<T> askAll(List<Member> members, String what, long epoch, Duration deadline,
      Function<PeerGrpc.PeerFutureStub, ListenableFuture<T>> call) {
    List<ListenableFuture<T>> replies = new ArrayList<>();
    for (Member m : members) {
      replies.add(call.apply(PeerGrpc.newFutureStub(channels.to(m.address()))
          .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)));
    }
    List<T> out = new ArrayList<>();
    for (int i = 0; i < members.size(); i++) {
      try {
        out.add(replies.get(i).get(deadline.toMillis() + 500, TimeUnit.MILLISECONDS));
      } catch (ExecutionException | TimeoutException e) {
        Throwable cause = e.getCause() == null ? e : e.getCause();
        if (what.equals("freeze")) {
          suspect.accept(members.get(i).id(), "did not answer Freeze(" + epoch + "): "
              + io.grpc.Status.fromThrowable(cause).getCode());
        }
        String failure = epoch + what + members.get(i).id() + cause.getMessage();
        if (!failure.equals(lastFailure) || failuresLogged++ % 20 == 0) {
          LOG.warn("epoch {}: {} of {} failed ({}); retrying next period", epoch, what,
              members.get(i).id(), cause);
        }
        lastFailure = failure;
        return null;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
    return out;
  }

  @Override
  public void close() {
    channels.close();
  }
}
