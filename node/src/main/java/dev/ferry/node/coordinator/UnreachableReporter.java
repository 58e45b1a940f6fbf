package dev.ferry.node.coordinator;

import dev.ferry.control.Member;
import dev.ferry.node.raft.RaftNode;
import dev.ferry.proto.peer.PeerGrpc;
import dev.ferry.proto.peer.UnreachableReport;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Tells the leader's failure detector about a member this node could not reach (DESIGN.md §6:
 * peers reporting a member unreachable). At most one report per member per
 * {@link #MIN_GAP}: a broken link fails every request in flight on it at once.
 *
 * <p>Threading: {@link #report} may be called from any thread; it hands the work to its own
 * thread, "ferry-unreachable-reporter", which owns the channels and the last-report times.
 */
public final class UnreachableReporter implements AutoCloseable {
  static final Duration MIN_GAP = Duration.ofMillis(250);

  private final String self;
  private final RaftNode raft;
  private final Coordinator coordinator;
  private final LongSupplier nanos;
  private final Channels channels = new Channels();
  private final Map<String, Long> lastReport = new HashMap<>();
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "ferry-unreachable-reporter");
    t.setDaemon(true);
    return t;
  });

  public UnreachableReporter(String self, RaftNode raft, Coordinator coordinator) {
    this(self, raft, coordinator, System::nanoTime);
  }

  UnreachableReporter(String self, RaftNode raft, Coordinator coordinator, LongSupplier nanos) {
    this.self = self;
    this.raft = raft;
    this.coordinator = coordinator;
    this.nanos = nanos;
  }

  /**
   * Reports {@code member} unreachable to the leader (here, or over its Peer service). Once this
   * node is stopping, nothing: links break then because this node closes them, and a gRPC
   * callback that threw here was logged at WARN with a stack trace at every shutdown.
   */
  public void report(String member, String why) {
    try {
      thread.execute(() -> send(member, why));
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      // closed: see above
    }
  }

  private void send(String member, String why) {
    long now = nanos.getAsLong();
    Long last = lastReport.get(member);
    if (member.equals(self) || (last != null && now - last < MIN_GAP.toNanos())) {
      return;
    }
    lastReport.put(member, now);
    String leader = raft.leaderId().orElse("");
    if (leader.equals(self)) {
      coordinator.suspect(member, "unreachable from " + self + " (" + why + ")");
      return;
    }
    Member l = raft.state().members().get(leader);
    if (l == null || leader.equals(member)) {
      return; // no leader known, or the leader itself is gone: Raft elects another
    }
    // fire and forget: a lost report only means detection by the timeout
    PeerGrpc.newFutureStub(channels.to(l.address()))
        .withDeadlineAfter(1, TimeUnit.SECONDS)
        .reportUnreachable(UnreachableReport.newBuilder().setReporter(self).setMember(member)
            .setReason(why).build());
  }

  @Override
  public void close() {
    thread.shutdownNow();
    channels.close();
  }
}
