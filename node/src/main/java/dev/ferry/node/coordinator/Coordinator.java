package dev.ferry.node.coordinator;

import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.node.raft.RaftNode;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.ReassignPortions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The cluster's coordinator: active only while this node is the ready Raft leader, and it
 * follows leadership changes by checking on every tick. Everything it decides goes through Raft
 * first, so a new leader resumes from the replicated state alone.
 *
 * <p>It runs the epoch barrier ({@link EpochBarrier}) every {@link #ctsPeriod()}, which also
 * folds JOINING members into the assignment, moves DRAINING members' portions away and keeps
 * the assignment balanced, all at epoch ends; and it commits and applies closed epochs
 * ({@link EpochCommitter}) whenever the replicated state moves. Failure handling comes next.
 *
 * <p>Threading: the leadership ticks and the barrier run on the "ferry-coordinator" thread,
 * the committer on the "ferry-epoch-commit" thread; each owns its component.
 */
public final class Coordinator implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(Coordinator.class);

  private final RaftNode raft;
  private final Duration tick;
  private final ScheduledExecutorService thread =
      daemonThread("ferry-coordinator");
  /** Commits and applies closed epochs as the state moves, apart from the barrier's period. */
  private final ScheduledExecutorService commitThread =
      daemonThread("ferry-epoch-commit");
  /** A pass of the committer is queued and has not started: state changes need not queue more. */
  private final AtomicBoolean commitQueued = new AtomicBoolean();
  private final Duration ctsPeriod; // this node's cts.period: used while the state sets none
  private final EpochBarrier barrier;
  private final EpochCommitter committer;
  private final Duration heartbeatInterval;
  private final FailureDetector detector;
  /** Heartbeats, apart from the barrier, which may wait on an unresponsive member. */
  private final ScheduledExecutorService detectorThread =
      daemonThread("ferry-failure-detector");
  private final EpochStats stats = new EpochStats();
  /** Whether the detector watched as leader in its last round. Detector thread only. */
  private boolean watching;
  /** Members that look failed but were not declared so (the cap): logged once each. */
  private final java.util.Set<String> refusedToFail = new java.util.HashSet<>();
  private boolean active;
  /** DRAINING members without portions, and the epoch that must be applied before removal. */
  private final java.util.Map<String, Long> drainedAt = new java.util.HashMap<>();

  public Coordinator(RaftNode raft, Duration tick, Duration ctsPeriod) {
    this(raft, tick, ctsPeriod, null, Duration.ofMillis(200), Duration.ofSeconds(1),
        DEFAULT_MAX_PENDING_EPOCHS);
  }

  /** {@code cts.max.pending} by default. */
  public static final int DEFAULT_MAX_PENDING_EPOCHS = 8;

  /**
   * @param self this node's member id; null: no failure detection (tests of other parts)
   * @param maxPendingEpochs closed, unapplied epochs at most before a round closes nothing
   */
  public Coordinator(RaftNode raft, Duration tick, Duration ctsPeriod, String self,
      Duration heartbeatInterval, Duration failureTimeout, int maxPendingEpochs) {
    this.raft = raft;
    this.tick = tick;
    this.ctsPeriod = ctsPeriod;
    BarrierHook hook = BarrierHook.fromSystemProperty();
    this.barrier = new EpochBarrier(raft, java.time.Clock.systemUTC(), stats, hook,
        (member, why) -> suspect(member, why), maxPendingEpochs);
    this.committer = new EpochCommitter(raft, hook, java.time.Clock.systemUTC());
    this.heartbeatInterval = heartbeatInterval;
    this.detector = self == null ? null
        : new FailureDetector(self, heartbeatInterval, failureTimeout, System::nanoTime,
            raft::followerSilenceMillis);
  }

  /** The barrier's figures while this node led (see {@link EpochStats}). */
  public EpochStats stats() {
    return stats;
  }

  /**
   * The effective epoch period: the cluster-wide one from the replicated state if one was set
   * ({@code ferry admin cts-period}), else this node's {@code cts.period}.
   */
  public Duration ctsPeriod() {
    long millis = raft.state().ctsPeriodMillis();
    return millis == 0 ? ctsPeriod : Duration.ofMillis(millis);
  }

  public boolean active() {
    return raft.isReadyLeader();
  }

  public void start() {
    dev.ferry.node.Periodic.everyDelay(thread, tick, LOG, "coordinator tick", this::tick);
    scheduleBarrier();
    if (detector != null) {
      detectorThread.scheduleWithFixedDelay(this::detectFailures, heartbeatInterval.toMillis(),
          heartbeatInterval.toMillis(), TimeUnit.MILLISECONDS);
    }
    // every applied state may stage or commit an epoch; the period is the retry for failures
    raft.stateMachine().addListener(state -> queueCommit());
    commitThread.scheduleWithFixedDelay(this::queueCommit, ctsPeriod.toMillis(), ctsPeriod.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /**
   * Claim 12: a member silent on every count, or suspected and refusing connections (see
   * {@link FailureDetector}), is declared FAILED through Raft, naming the incarnation that was
   * watched. Never more than {@code copies - 1} unsettled failures at once (DESIGN.md §6.1): a
   * further member that looks failed is left alone (its portions' writes wait, UNAVAILABLE to
   * primaries in the end) and the operator is told, since failing it could drop the last copy
   * of an acknowledged update.
   */
  private void detectFailures() {
    try {
      if (!raft.isReadyLeader()) {
        if (watching) {
          detector.reset("this node stopped leading");
          watching = false;
        }
        return;
      }
      watching = true;
      long term = raft.leaderTerm();
      if (term == 0) {
        return; // deposed since the check above: the next round resets the history
      }
      ClusterState s = raft.state();
      Map<String, FailureDetector.Failure> verdicts = detector.check(s);
      String reset = detector.takeResetReason();
      if (!reset.isEmpty() && !reset.equals("this node stopped leading")) {
        LOG.warn("failure detector: heartbeat history reset, grace period of {} failure"
            + " timeouts: {}", FailureDetector.GRACE_TIMEOUTS, reset);
      }
      long unsettled = s.unsettledFailures();
      for (Map.Entry<String, FailureDetector.Failure> f : verdicts.entrySet()) {
        String id = f.getKey();
        if (unsettled >= s.copies() - 1) {
          if (refusedToFail.add(id)) {
            LOG.error("member {} {}, but {} failure(s) are not settled yet (copies {}): not"
                + " declaring it FAILED, which could lose the last copy of acknowledged writes;"
                + " writes of its portions wait. Bring it back, or once the earlier failures"
                + " are settled it is declared failed", id, f.getValue().why(), unsettled,
                s.copies());
          }
          continue;
        }
        try {
          raft.submit(Command.newBuilder().setMarkFailed(
              dev.ferry.proto.control.MarkFailed.newBuilder().setId(id)
                  .setIncarnation(f.getValue().incarnation()).setLeaderTerm(term)).build())
              .get(5, TimeUnit.SECONDS);
          LOG.warn("member {} {}: declared FAILED; its portions moved to the others", id,
              f.getValue().why());
          detector.forget(id);
          refusedToFail.remove(id);
          unsettled++;
        } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
          LOG.warn("declaring {} failed did not go through; retrying: {}", id, String.valueOf(e));
        }
      }
      refusedToFail.retainAll(verdicts.keySet());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      LOG.warn("failure detection round failed; retrying", e);
    }
  }

  /**
   * A sign that {@code member} may be gone: a Freeze it did not answer, or a peer whose
   * connection to it broke. Only on the leader; its heartbeats confirm or clear it.
   */
  public void suspect(String member, String why) {
    if (detector != null && raft.isReadyLeader()) {
      detector.suspect(member, why);
    }
  }

  private void queueCommit() {
    if (commitQueued.compareAndSet(false, true)) {
      commitThread.execute(this::commitSafely);
    }
  }

  private void commitSafely() {
    commitQueued.set(false);
    try {
      if (raft.isReadyLeader()) {
        committer.run();
      }
    } catch (RuntimeException e) {
      LOG.warn("epoch commit failed; retrying", e);
    }
  }

  /** Arms one barrier round after the effective period as it is now; each round arms the next. */
  private void scheduleBarrier() {
    try {
      thread.schedule(this::barrierSafely, ctsPeriod().toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // closed: no more rounds
    }
  }

  private void barrierSafely() {
    try {
      if (raft.isReadyLeader()) {
        barrier.run();
      }
    } catch (RuntimeException e) {
      LOG.warn("epoch barrier failed; retrying next period", e);
    } finally {
      scheduleBarrier();
    }
  }

  private void tick() {
    boolean leader = raft.isReadyLeader();
    if (leader != active) {
      active = leader;
      LOG.info(leader ? "coordinator active: this node leads" : "coordinator idle: not the leader");
    }
    if (leader) {
      activateJoinersOfAnEmptyCluster();
      finishDrains();
    }
  }

  /**
   * A DRAINING member that holds no portion any more still holds copies of updates of the
   * epochs before it gave them away; once those are applied at the secondaries it is removed:
   * REMOVED in the state, then out of the Raft configuration. The epoch to wait for is noted
   * here (a new leader notes a later one, which only waits longer).
   */
  private void finishDrains() {
    ClusterState s = raft.state();
    drainedAt.keySet().removeIf(id -> s.members().get(id) == null
        || s.members().get(id).state() != MemberState.DRAINING);
    for (Member m : s.members().values()) {
      if (m.state() != MemberState.DRAINING
          || s.assignment().values().stream().anyMatch(a -> a.placementsOf(m.id()) > 0)) {
        continue;
      }
      long mark = drainedAt.computeIfAbsent(m.id(), id -> s.openEpoch());
      if (s.consistentEpoch() < mark) {
        continue;
      }
      try {
        raft.submit(Command.newBuilder().setRemove(
            dev.ferry.proto.control.Remove.newBuilder().setId(m.id())).build()).get(5, TimeUnit.SECONDS);
        raft.removePeer(m.id());
        LOG.info("member {} drained: every epoch it held updates of is applied; removed", m.id());
      } catch (java.util.concurrent.ExecutionException | TimeoutException | java.io.IOException e) {
        LOG.warn("removing drained member {} failed; retrying next tick: {}", m.id(), String.valueOf(e));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * Without volumes there is nothing to move, so JOINING members become ACTIVE at once instead
   * of at the next epoch end (a new cluster forms faster). With volumes, the barrier does it.
   */
  private void activateJoinersOfAnEmptyCluster() {
    ClusterState s = raft.state();
    List<String> joining = s.members().values().stream()
        .filter(m -> m.state() == MemberState.JOINING).map(Member::id).toList();
    if (joining.isEmpty() || !s.volumes().isEmpty()) {
      return;
    }
    Command command = Command.newBuilder().setReassignPortions(ReassignPortions.newBuilder()
        .setBaseVersion(s.assignmentVersion()).addAllActivate(joining)).build();
    try {
      raft.submit(command).get(5, TimeUnit.SECONDS);
      LOG.info("activated {} (no volumes yet)", joining);
    } catch (java.util.concurrent.ExecutionException e) {
      // e.g. a volume was created meanwhile: the barrier activates them at the next epoch end
      LOG.info("activation of {} not applied: {}", joining, String.valueOf(e.getCause()));
    } catch (TimeoutException e) {
      LOG.warn("activation of {} did not complete within 5 s; retrying next tick", joining);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static ScheduledExecutorService daemonThread(String name) {
    return Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }

  @Override
  public void close() {
    thread.shutdownNow();
    commitThread.shutdownNow();
    detectorThread.shutdownNow();
    if (detector != null) {
      detector.close();
    }
    barrier.close();
    committer.close();
  }
}
