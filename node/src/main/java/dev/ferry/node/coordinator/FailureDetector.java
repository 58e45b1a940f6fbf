package dev.ferry.node.coordinator;

import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.proto.control.MemberState;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Heartbeats of the leader's coordinator (DESIGN.md §6): every member that takes part in
 * epochs is asked, each interval, whether it serves (gRPC health check, deadline = the
 * interval); one that has not answered for the failure timeout is reported as failed. A member
 * counts as heard when this detector starts or first sees it, so a new leader gives everyone a
 * full timeout.
 *
 * <p>Threading: the coordinator thread calls {@link #check}; answers arrive on gRPC threads
 * and only touch {@link #heardAt}, under its lock.
 */
final class FailureDetector implements AutoCloseable {
  private final String self;
  private final Duration timeout;
  private final Duration interval;
  private final LongSupplier nanos;
  private final Channels channels = new Channels();
  private final Map<String, Long> heardAt = new HashMap<>();

  FailureDetector(String self, Duration interval, Duration timeout, LongSupplier nanos) {
    this.self = self;
    this.interval = interval;
    this.timeout = timeout;
    this.nanos = nanos;
  }

  /** Sends this round's heartbeats and returns the members silent for longer than the timeout. */
  List<String> check(ClusterState s) {
    long now = nanos.getAsLong();
    List<String> failed = new ArrayList<>();
    synchronized (heardAt) {
      heardAt.keySet().removeIf(id -> !watched(s.members().get(id)));
    }
    for (Member m : s.members().values()) {
      if (!watched(m) || m.id().equals(self)) {
        continue;
      }
      long last;
      synchronized (heardAt) {
        last = heardAt.computeIfAbsent(m.id(), id -> now);
      }
      if (now - last > timeout.toNanos()) {
        failed.add(m.id());
        continue;
      }
      String id = m.id();
      var answer = HealthGrpc.newFutureStub(channels.to(m.address()))
          .withDeadlineAfter(interval.toMillis(), TimeUnit.MILLISECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
      answer.addListener(() -> {
        try {
          answer.get(); // any answer: the process lives (a JOINING one is not SERVING yet)
          synchronized (heardAt) {
            heardAt.put(id, Math.max(heardAt.getOrDefault(id, 0L), nanos.getAsLong()));
          }
        } catch (Exception e) {
          // not heard: the timeout decides
        }
      }, Runnable::run);
    }
    return failed;
  }

  /** Forgets a member (it was declared failed, or it left). */
  void forget(String id) {
    synchronized (heardAt) {
      heardAt.remove(id);
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
