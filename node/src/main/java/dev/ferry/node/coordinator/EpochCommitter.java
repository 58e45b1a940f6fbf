package dev.ferry.node.coordinator;

import dev.ferry.control.ClusterState;
import dev.ferry.control.EpochRecord;
import dev.ferry.control.Portion;
import dev.ferry.control.Volume;
import dev.ferry.node.raft.RaftNode;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CommitEpoch;
import dev.ferry.proto.control.EpochApplied;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.secondary.CommitRequest;
import dev.ferry.proto.secondary.PortionId;
import dev.ferry.proto.secondary.SecondaryGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The second half of an epoch's life (DESIGN.md §5), run by the leader's coordinator as soon as
 * the replicated state moves rather than once per period, so the RPO is not a period longer
 * than it needs to be: commits, in order, every closed epoch whose portions are all staged
 * (CommitEpoch through Raft: the two-phase-commit decision), then tells each secondary to apply
 * the committed epochs it has not applied, in order, and records each apply through Raft.
 *
 * <p>Threading: runs only on the coordinator's commit thread, which owns the channels.
 */
final class EpochCommitter implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(EpochCommitter.class);
  private static final Duration DEADLINE = Duration.ofSeconds(5);
  /** How long the oldest closed epoch may wait for its stagings before a warning names them. */
  static final Duration STAGING_STALL = Duration.ofSeconds(10);

  private final RaftNode raft;
  private final BarrierHook hook;
  private final Channels secondaries = new Channels();
  private final java.time.Clock clock;
  /** Apply failures: once per STAGING_STALL per secondary and status. Committer thread only. */
  private final dev.ferry.node.RepeatedFailureLog applyFailures;
  /** The oldest closed, unstaged epoch seen, and when it was first seen so (or last warned of). */
  private long waitingEpoch;
  private long waitingSinceMillis;

  EpochCommitter(RaftNode raft, BarrierHook hook, java.time.Clock clock) {
    this.raft = raft;
    this.hook = hook;
    this.clock = clock;
    this.applyFailures = new dev.ferry.node.RepeatedFailureLog(STAGING_STALL.toMillis(), clock::millis);
  }

  /** One pass over the epochs that are closed and not yet applied everywhere. */
  void run() {
    commitStagedEpochs();
    applyCommittedEpochs();
  }

  private void commitStagedEpochs() {
    for (EpochRecord e : raft.state().epochs().values()) {
      if (e.state() == EpochState.COMMITTED) {
        continue;
      }
      if (e.state() != EpochState.STAGED) {
        warnIfStagingStalls(e);
        return; // epochs commit in order
      }
      try {
        raft.submit(Command.newBuilder().setCommitEpoch(CommitEpoch.newBuilder()
            .setEpoch(e.number())).build()).get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException ex) {
        LOG.warn("epoch {}: CommitEpoch failed: {}", e.number(), String.valueOf(ex));
        return;
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        return;
      }
      hook.reached(BarrierHook.COMMIT, e.number());
    }
  }

  /**
   * The RPO grows while the oldest closed epoch waits for a staging: after {@link
   * #STAGING_STALL}, and again each period as long, names the portions not staged yet and
   * their owners now (the owner, or the member that took a failed owner's portions over, stages).
   */
  private void warnIfStagingStalls(EpochRecord e) {
    long now = clock.millis();
    if (e.number() != waitingEpoch) {
      waitingEpoch = e.number();
      waitingSinceMillis = now;
      return;
    }
    if (now - waitingSinceMillis < STAGING_STALL.toMillis()) {
      return;
    }
    waitingSinceMillis = now;
    ClusterState s = raft.state();
    List<String> missing = new ArrayList<>();
    for (Portion p : e.watermarks().keySet()) {
      if (!e.staged().contains(p)) {
        var a = s.assignment().get(p.volume());
        missing.add(p + " (owner " + (a == null ? "-" : a.owner(p.region())) + ")");
      }
    }
    LOG.warn("epoch {} closed {} s ago is still not staged: {} of {} portion(s) missing{};"
        + " later epochs wait behind it", e.number(), (now - e.closedAtMillis()) / 1000,
        missing.size(), e.watermarks().size(),
        missing.isEmpty() ? "" : ": " + missing.subList(0, Math.min(8, missing.size())));
  }

  /** A secondary that fails stops there; it is asked again on the next pass. */
  private void applyCommittedEpochs() {
    ClusterState s = raft.state();
    Set<String> stopped = new HashSet<>();
    for (EpochRecord e : s.epochs().values()) {
      if (e.state() != EpochState.COMMITTED) {
        return;
      }
      for (String secondary : e.secondaries()) {
        if (e.appliedBy().contains(secondary) || stopped.contains(secondary)) {
          continue;
        }
        try {
          SecondaryGrpc.newBlockingStub(secondaries.to(secondary))
              .withDeadlineAfter(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
              .commit(commitRequest(s, e, secondary));
          raft.submit(Command.newBuilder().setEpochApplied(EpochApplied.newBuilder()
              .setEpoch(e.number()).setSecondary(secondary)).build())
              .get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException | ExecutionException | TimeoutException ex) {
          stopped.add(secondary);
          if (applyFailures.shouldLog(secondary + " " + io.grpc.Status.fromThrowable(ex).getCode())) {
            LOG.warn("epoch {}: apply at secondary {} failed; retrying: {}", e.number(),
                secondary, String.valueOf(ex));
          }
        } catch (InterruptedException ex) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /** Commit(N) for one secondary, naming the portions of N it must have staged. */
  private static CommitRequest commitRequest(ClusterState s, EpochRecord e, String secondary) {
    CommitRequest.Builder commit = CommitRequest.newBuilder().setEpoch(e.number())
        .setClosedAtMillis(e.closedAtMillis());
    for (Portion p : e.watermarks().keySet()) {
      Volume v = s.volumes().get(p.volume());
      if (v != null && v.secondary().equals(secondary)) {
        commit.addExpected(PortionId.newBuilder().setVolume(p.volume()).setRegion(p.region()));
      }
    }
    return commit.build();
  }

  @Override
  public void close() {
    secondaries.close();
  }
}
