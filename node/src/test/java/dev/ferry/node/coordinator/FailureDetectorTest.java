package dev.ferry.node.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Outcome;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The detection sources besides the timeout: a suspicion (failed Freeze, a peer's report)
 * fails a member at once when its heartbeats are refused, and never fails one that answers.
 * The detector's clock stands still, so the failure timeout never fires in these tests.
 */
class FailureDetectorTest {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private Server live;
  private FailureDetector detector;
  private ClusterState state;

  @BeforeEach
  void start() throws Exception {
    live = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new HealthStatusManager().getHealthService()).build().start();
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort(); // nothing listens there once closed: connections are refused
    }
    state = members(Map.of("leader", "127.0.0.1:1", "alive", "127.0.0.1:" + live.getPort(),
        "gone", "127.0.0.1:" + closed));
    detector = new FailureDetector("leader", Duration.ofMillis(200), Duration.ofSeconds(1),
        nanos::get);
  }

  @AfterEach
  void stop() {
    detector.close();
    live.shutdownNow();
  }

  @Test
  void refusedHeartbeatsAloneWaitForTheTimeout() {
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      assertThat(detector.check(state)).as("nothing suspected, clock still").isEmpty();
      return detector.refusals("gone") >= FailureDetector.REFUSALS_TO_CONFIRM + 1;
    });
    assertThat(detector.check(state)).isEmpty();
  }

  @Test
  void aSuspectedMemberThatRefusesConnectionsFailsAtOnce() {
    detector.suspect("gone", "did not answer Freeze(7): UNAVAILABLE");
    await().atMost(Duration.ofSeconds(10)).until(() -> detector.check(state).containsKey("gone"));
    detector.suspect("gone", "x");
    Map<String, String> failed = detector.check(state);
    assertThat(failed).containsOnlyKeys("gone");
    assertThat(failed.get("gone")).startsWith("did not answer Freeze(7)")
        .contains("refused " + FailureDetector.REFUSALS_TO_CONFIRM);
  }

  @Test
  void aSuspectedMemberThatAnswersIsCleared() {
    detector.suspect("alive", "reported unreachable by n3");
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      assertThat(detector.check(state)).doesNotContainKey("alive");
      return !detector.isSuspected("alive");
    });
    assertThat(detector.refusals("alive")).isZero();
  }

  @Test
  void theTimeoutStillFailsASilentMember() {
    detector.check(state); // first sight: heard now
    nanos.addAndGet(Duration.ofMillis(1_001).toNanos());
    // ("alive" too, unless its answer came after the clock moved: not what this checks)
    assertThat(detector.check(state)).extractingByKey("gone").asString()
        .contains("failure timeout (1000 ms)");
  }

  private static ClusterState members(Map<String, String> addresses) {
    ClusterState s = ClusterState.EMPTY;
    for (var e : addresses.entrySet()) {
      s = apply(s, Command.newBuilder().setRegisterMember(RegisterMember.newBuilder()
          .setId(e.getKey()).setAddress(e.getValue()).setIncarnation(1)).build());
    }
    return apply(s, Command.newBuilder().setReassignPortions(ReassignPortions.newBuilder()
        .setBaseVersion(s.assignmentVersion()).addAllActivate(addresses.keySet())).build());
  }

  private static ClusterState apply(ClusterState s, Command c) {
    Outcome o = ClusterTransitions.apply(s, c);
    assertThat(o.accepted()).as("%s: %s", c, o).isTrue();
    return o.state();
  }
}
