package dev.ferry.node.coordinator;

import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.proto.control.MemberState;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Heartbeats of the leader's coordinator (DESIGN.md §6, §6.1): every member that takes part in
 * epochs is asked, each interval, whether it serves (gRPC health check, deadline = the
 * interval). A member is declared failed only on evidence that survives CPU starvation and a
 * change of leader:
 * <ul>
 *   <li><b>Silence</b>: no answer for the failure timeout <em>and</em> at least
 *       {@value #MISSED_TO_CONFIRM} heartbeats in a row sent and missed <em>and</em>, where Raft
 *       knows the member, no Raft answer to the leader for half the timeout either. A JOINING
 *       member never heard by this detector is not failed by silence (it is starting), nor is a
 *       member back as a new incarnation this detector saw arrive, for
 *       {@value #YOUNG_INCARNATION_TIMEOUTS} timeouts after it first saw it (a process just
 *       restarted compiles and loads classes on a busy machine: in the soak one paused 2.9 s
 *       right after it was activated and was failed again, 4 s lost per restart).</li>
 *   <li><b>Refusal</b>: a <em>suspected</em> member (it did not answer a Freeze, or a peer
 *       reported its connection broken) whose last {@value #REFUSALS_TO_CONFIRM} heartbeats were
 *       refused (UNAVAILABLE: no process listens, or the connection was reset).</li>
 * </ul>
 * The history starts over, and nobody is failed by silence for a grace period of
 * {@value #GRACE_TIMEOUTS} timeouts,
 * each time this detector starts watching (the node became leader) and each time its own rounds
 * were held up for more than {@value #STARVED_ROUNDS} intervals (its process was paused or
 * starved of CPU: its silence figures then say nothing about the others).
 *
 * <p>Whether a failure may be declared at all (no more than {@code copies - 1} unsettled ones)
 * is the coordinator's decision, not this class's.
 *
 * <p>Threading: the coordinator's detector thread calls {@link #check} and {@link #reset};
 * answers arrive on gRPC threads and suspicions on the barrier and gRPC threads; all touch the
 * maps only under the {@link #watched} lock.
 */
final class FailureDetector implements AutoCloseable {
  /** Heartbeats refused in a row that confirm a suspicion. */
  static final int REFUSALS_TO_CONFIRM = 2;
  /** Heartbeats missed in a row (sent, not answered in time) needed besides the timeout. */
  static final int MISSED_TO_CONFIRM = 3;
  /** A gap between rounds longer than this many intervals means the detector itself stalled. */
  static final int STARVED_ROUNDS = 3;
  /** Failure timeouts after a reset during which nobody is failed by silence. */
  static final int GRACE_TIMEOUTS = 2;
  /** Failure timeouts during which a new incarnation this detector saw arrive is not failed by silence. */
  static final int YOUNG_INCARNATION_TIMEOUTS = 5;


  private final String self;
  private final Duration timeout;
  private final Duration interval;
  private final LongSupplier nanos;
  /** Per member id, how long ago it last answered the leader's Raft RPCs (ms); may lack some. */
  private final Supplier<Map<String, Long>> raftSilenceMillis;
  private final Channels channels = new Channels();
  /** What this detector knows of each member it watches. */
  private final Map<String, Watch> watched = new HashMap<>();
  /** Suspicions of members not watched yet (taken up when they are). */
  private final Map<String, String> suspectedBeforeWatched = new HashMap<>();
  /** When the last round ran (0: never since the last reset). */
  private long lastRoundAt;
  /** No member is failed by silence before this time (a grace period after each reset). */
  private long graceUntil;
  /** Why the history was last reset, for the coordinator to log once. */
  private String lastReset = "";

  /** One watched member incarnation. */
  /**
   * Per member id: the incarnation this detector last saw, and until when (nanos) it is young
   * (0: not young). Kept across resets, unlike the watches; under the {@link #watched} lock.
   */
  private final Map<String, long[]> incarnations = new java.util.HashMap<>();

  private static final class Watch {
    final long incarnation;
    long heardAt;
    boolean everHeard;
    int missedInARow;
    int refusedInARow;
    String suspectedFor;

    Watch(long incarnation, long now) {
      this.incarnation = incarnation;
      this.heardAt = now;
    }
  }

  FailureDetector(String self, Duration interval, Duration timeout, LongSupplier nanos,
      Supplier<Map<String, Long>> raftSilenceMillis) {
    this.self = self;
    this.interval = interval;
    this.timeout = timeout;
    this.nanos = nanos;
    this.raftSilenceMillis = raftSilenceMillis;
  }

  /** A detector without Raft corroboration (tests of the other sources). */
  FailureDetector(String self, Duration interval, Duration timeout, LongSupplier nanos) {
    this(self, interval, timeout, nanos, Map::of);
  }

  /**
   * Forgets every member's history and starts a grace period: called when this node stops
   * leading (the next leadership starts fresh) and by {@link #check} when it finds itself
   * starved.
   */
  void reset(String why) {
    synchronized (watched) {
      watched.clear();
      suspectedBeforeWatched.clear();
      lastRoundAt = 0;
      lastReset = why;
    }
  }

  /** The reason of the last reset, once: "" if there was none since the last call. */
  String takeResetReason() {
    synchronized (watched) {
      String why = lastReset;
      lastReset = "";
      return why;
    }
  }

  /**
   * Sends this round's heartbeats and returns the members to declare failed (id to incarnation
   * and why): silent on every count, or suspected and refusing connections.
   */
  Map<String, Failure> check(ClusterState s) {
    long now = nanos.getAsLong();
    Map<String, Failure> failed = new LinkedHashMap<>();
    Map<String, Long> raftSilence = raftSilenceMillis.get();
    boolean firstRound;
    synchronized (watched) {
      if (lastRoundAt != 0 && now - lastRoundAt > STARVED_ROUNDS * interval.toNanos()) {
        watched.clear();
        lastReset = "this detector's rounds were held up for "
            + (now - lastRoundAt) / 1_000_000 + " ms (process paused or starved of CPU)";
        lastRoundAt = 0; // a grace period, as after any reset
      }
      firstRound = lastRoundAt == 0;
      if (firstRound) {
        graceUntil = now + GRACE_TIMEOUTS * timeout.toNanos();
      }
      lastRoundAt = now;
      watched.entrySet().removeIf(e -> {
        Member m = s.members().get(e.getKey());
        return !watched(m) || m.incarnation() != e.getValue().incarnation;
      });
    }
    for (Member m : s.members().values()) {
      if (!watched(m) || m.id().equals(self)) {
        continue;
      }
      String id = m.id();
      Watch w;
      synchronized (watched) {
        long[] seen = incarnations.get(id);
        if (seen == null || seen[0] != m.incarnation()) {
          // young if this detector saw it arrive: JOINING, a later incarnation than it watched,
          // or a member it never saw, after its first round since a reset (the members of that
          // round are the population it found, which the grace period covers): registered and
          // activated between two rounds, as an empty cluster does at once with a node just
          // started
          boolean arrived = m.state() == MemberState.JOINING
              || (seen != null && m.incarnation() > seen[0])
              || (seen == null && !firstRound);
          incarnations.put(id, new long[] {m.incarnation(),
              arrived ? now + YOUNG_INCARNATION_TIMEOUTS * timeout.toNanos() : 0});
        }
        w = watched.computeIfAbsent(id, k -> new Watch(m.incarnation(), now));
        String early = suspectedBeforeWatched.remove(id);
        if (early != null && w.suspectedFor == null) {
          w.suspectedFor = early;
        }
        String why = verdict(m, w, now, raftSilence.get(id));
        if (why != null) {
          failed.put(id, new Failure(m.incarnation(), why));
          continue;
        }
      }
      heartbeat(id, m.address(), w);
    }
    return failed;
  }

  /** Why {@code m} is failed now, or null. Caller holds the lock. */
  private String verdict(Member m, Watch w, long now, Long raftSilentMillis) {
    if (w.suspectedFor != null && w.refusedInARow >= REFUSALS_TO_CONFIRM) {
      return w.suspectedFor + ", and refused " + w.refusedInARow + " heartbeats in a row";
    }
    long[] seen = incarnations.get(m.id());
    boolean young = seen != null && seen[0] == m.incarnation() && now < seen[1];
    boolean silent = now - w.heardAt > timeout.toNanos() && w.missedInARow >= MISSED_TO_CONFIRM
        && now >= graceUntil && !young;
    boolean raftAgrees = raftSilentMillis == null || raftSilentMillis >= timeout.toMillis() / 2;
    boolean starting = m.state() == MemberState.JOINING && !w.everHeard;
    if (silent && raftAgrees && !starting) {
      return "did not answer for the failure timeout (" + timeout.toMillis() + " ms, "
          + w.missedInARow + " heartbeats missed in a row"
          + (raftSilentMillis == null ? "" : ", no Raft answer for " + raftSilentMillis + " ms")
          + ")";
    }
    return null;
  }

  private void heartbeat(String id, String address, Watch w) {
    var answer = HealthGrpc.newFutureStub(channels.to(address))
        .withDeadlineAfter(interval.toMillis(), TimeUnit.MILLISECONDS)
        .check(HealthCheckRequest.getDefaultInstance());
    answer.addListener(() -> {
      Status.Code refusedWith = null;
      try {
        answer.get(); // any answer: the process lives (a JOINING one is not SERVING yet)
      } catch (ExecutionException e) {
        refusedWith = Status.fromThrowable(e.getCause()).getCode();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      synchronized (watched) {
        if (watched.get(id) != w) {
          return; // reset or another incarnation meanwhile: this answer is history
        }
        if (refusedWith == null) {
          w.heardAt = Math.max(w.heardAt, nanos.getAsLong());
          w.everHeard = true;
          w.missedInARow = 0;
          w.refusedInARow = 0;
          w.suspectedFor = null;
        } else {
          w.missedInARow++;
          if (refusedWith == Status.Code.UNAVAILABLE) {
            w.refusedInARow++;
          } else {
            w.refusedInARow = 0; // slow, not gone: the timeout decides
          }
        }
      }
    }, Runnable::run);
  }

  /**
   * Records a sign that {@code id} may be gone (a failed Freeze, a peer's report): it is failed
   * as soon as its heartbeats are refused {@value #REFUSALS_TO_CONFIRM} times in a row.
   */
  void suspect(String id, String why) {
    synchronized (watched) {
      Watch w = watched.get(id);
      if (w == null) {
        suspectedBeforeWatched.putIfAbsent(id, why);
      } else if (w.suspectedFor == null) {
        w.suspectedFor = why;
      }
    }
  }

  /** Heartbeats of {@code id} refused in a row (for tests and diagnostics). */
  int refusals(String id) {
    synchronized (watched) {
      Watch w = watched.get(id);
      return w == null ? 0 : w.refusedInARow;
    }
  }

  /** Heartbeats of {@code id} missed in a row (for tests and diagnostics). */
  int missed(String id) {
    synchronized (watched) {
      Watch w = watched.get(id);
      return w == null ? 0 : w.missedInARow;
    }
  }

  boolean isSuspected(String id) {
    synchronized (watched) {
      Watch w = watched.get(id);
      return w != null && w.suspectedFor != null;
    }
  }

  /** Forgets a member (it was declared failed, or it left). */
  void forget(String id) {
    synchronized (watched) {
      watched.remove(id);
    }
  }

  private static boolean watched(Member m) {
    return m != null && m.isLive();
  }

  /** A member to declare failed: the incarnation watched, and why. */
  record Failure(long incarnation, String why) {}

  @Override
  public void close() {
    channels.close();
  }
}
