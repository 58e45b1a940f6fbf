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

/**
 * Heartbeats of the leader's coordinator (DESIGN.md §6): every member that takes part in
 * epochs is asked, each interval, whether it serves (gRPC health check, deadline = the
 * interval); one that has not answered for the failure timeout is reported as failed. A member
 * counts as heard when this detector starts or first sees it, so a new leader gives everyone a
 * full timeout.
 *
 * <p>Two more sources make it faster, never on their own: a member is <em>suspected</em> when
 * it did not answer a Freeze or a peer reports its connection to it broken. A suspected member
 * whose last {@value #REFUSALS_TO_CONFIRM} heartbeats were refused (status UNAVAILABLE: no
 * process listens, or the connection was reset) is failed at once, without waiting for the
 * timeout. A slow member (its heartbeats time out rather than being refused) or one that
 * answers anything is left to the timeout, so a suspicion alone never fails a live member.
 *
 * <p>Threading: the coordinator's detector thread calls {@link #check}; answers arrive on gRPC
 * threads and suspicions on the barrier and gRPC threads; all three touch the maps only under
 * the {@link #heardAt} lock.
 */
final class FailureDetector implements AutoCloseable {
  /** Heartbeats refused in a row that confirm a suspicion. */
  static final int REFUSALS_TO_CONFIRM = 2;

  private final String self;
  private final Duration timeout;
  private final Duration interval;
  private final LongSupplier nanos;
  private final Channels channels = new Channels();
  private final Map<String, Long> heardAt = new HashMap<>();
  /** Why each suspected member is suspected (the first reason); cleared by any answer. */
  private final Map<String, String> suspected = new HashMap<>();
  /** Heartbeats refused in a row per member; cleared by any answer or a timed-out one. */
  private final Map<String, Integer> refusedInARow = new HashMap<>();

  FailureDetector(String self, Duration interval, Duration timeout, LongSupplier nanos) {
    this.self = self;
    this.interval = interval;
    this.timeout = timeout;
    this.nanos = nanos;
  }

  /**
   * Sends this round's heartbeats and returns the members to declare failed, each with why:
   * silent for longer than the timeout, or suspected and refusing connections.
   */
  Map<String, String> check(ClusterState s) {
    long now = nanos.getAsLong();
    Map<String, String> failed = new LinkedHashMap<>();
    synchronized (heardAt) {
      heardAt.keySet().removeIf(id -> !watched(s.members().get(id)));
      suspected.keySet().removeIf(id -> !watched(s.members().get(id)));
      refusedInARow.keySet().removeIf(id -> !watched(s.members().get(id)));
    }
    for (Member m : s.members().values()) {
      if (!watched(m) || m.id().equals(self)) {
        continue;
      }
      String id = m.id();
      synchronized (heardAt) {
        long last = heardAt.computeIfAbsent(id, k -> now);
        if (now - last > timeout.toNanos()) {
          failed.put(id, "did not answer for the failure timeout (" + timeout.toMillis() + " ms)");
          continue;
        }
        int refused = refusedInARow.getOrDefault(id, 0);
        if (suspected.containsKey(id) && refused >= REFUSALS_TO_CONFIRM) {
          failed.put(id, suspected.get(id) + ", and refused " + refused + " heartbeats in a row");
          continue;
        }
      }
      var answer = HealthGrpc.newFutureStub(channels.to(m.address()))
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
        synchronized (heardAt) {
          if (refusedWith == null) {
            heardAt.put(id, Math.max(heardAt.getOrDefault(id, 0L), nanos.getAsLong()));
            suspected.remove(id);
            refusedInARow.remove(id);
          } else if (refusedWith == Status.Code.UNAVAILABLE) {
            refusedInARow.merge(id, 1, Integer::sum);
          } else {
            refusedInARow.remove(id); // slow, not gone: the timeout decides
          }
        }
      }, Runnable::run);
    }
    return failed;
  }

  /**
   * Records a sign that {@code id} may be gone (a failed Freeze, a peer's report): it is failed
   * as soon as its heartbeats are refused {@value #REFUSALS_TO_CONFIRM} times in a row.
   */
  void suspect(String id, String why) {
    synchronized (heardAt) {
      suspected.putIfAbsent(id, why);
    }
  }

  /** Heartbeats of {@code id} refused in a row (for tests and diagnostics). */
  int refusals(String id) {
    synchronized (heardAt) {
      return refusedInARow.getOrDefault(id, 0);
    }
  }

  boolean isSuspected(String id) {
    synchronized (heardAt) {
      return suspected.containsKey(id);
    }
  }

  /** Forgets a member (it was declared failed, or it left). */
  void forget(String id) {
    synchronized (heardAt) {
      heardAt.remove(id);
      suspected.remove(id);
      refusedInARow.remove(id);
    }
  }

  private static boolean watched(Member m) {
    return m != null && (m.state() == MemberState.ACTIVE || m.state() == MemberState.JOINING
        || m.state() == MemberState.DRAINING);
  }

  @Override
  public void close() {
    channels.close();
  }
}
