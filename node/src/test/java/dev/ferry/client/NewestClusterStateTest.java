package dev.ferry.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.net.HostAndPort;
import dev.ferry.proto.admin.AdminGrpc;
import dev.ferry.proto.admin.GetClusterStateRequest;
import dev.ferry.proto.control.ClusterStateSnapshot;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A primary learns the assignment from the node that has applied the most, not from the first
 * node that answers: a lagging node answering first held the soak's load to an assignment
 * every owner refused as stale.
 */
class NewestClusterStateTest {
  private final List<Server> servers = new ArrayList<>();

  /** An Admin service that answers GetClusterState with {@code version}, or never (-1). */
  private HostAndPort node(long version) throws Exception {
    AdminGrpc.AdminImplBase admin = new AdminGrpc.AdminImplBase() {
      @Override
      public void getClusterState(GetClusterStateRequest request,
          StreamObserver<ClusterStateSnapshot> reply) {
        if (version < 0) {
          return; // a paused node: the call waits out its deadline
        }
        reply.onNext(ClusterStateSnapshot.newBuilder().setAssignmentVersion(version).build());
        reply.onCompleted();
      }
    };
    Server s = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(admin).build().start();
    servers.add(s);
    return HostAndPort.fromParts("127.0.0.1", s.getPort());
  }

  @AfterEach
  void stop() {
    servers.forEach(Server::shutdownNow);
  }

  @Test
  void theNodeThatAppliedTheMostWinsOverTheFirstThatAnswers() throws Exception {
    List<HostAndPort> nodes = List.of(node(4), node(-1), node(5), node(3));
    try (AdminClient admin = new AdminClient(nodes, Duration.ofSeconds(5))) {
      assertThat(admin.clusterState().getAssignmentVersion()).as("the first that answers")
          .isEqualTo(4);
      assertThat(admin.newestClusterState().getAssignmentVersion()).isEqualTo(5);
    }
  }

  @Test
  void aPausedNodeCostsTheGraceNotTheDeadline() throws Exception {
    List<HostAndPort> nodes = List.of(node(-1), node(7));
    try (AdminClient admin = new AdminClient(nodes, Duration.ofSeconds(30))) {
      long start = System.nanoTime();
      assertThat(admin.newestClusterState().getAssignmentVersion()).isEqualTo(7);
      // the answer is taken once the grace after the first answer is over, well before the
      // 30 s deadline the paused node would hold it to
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(20));
    }
  }

  @Test
  void noAnswerIsUnavailable() throws Exception {
    Server gone = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).build()
        .start();
    int port = gone.getPort();
    gone.shutdownNow().awaitTermination();
    try (AdminClient admin = new AdminClient(List.of(HostAndPort.fromParts("127.0.0.1", port)),
        Duration.ofSeconds(2))) {
      assertThatThrownBy(admin::newestClusterState).isInstanceOf(StatusRuntimeException.class)
          .satisfies(e -> assertThat(Status.fromThrowable(e).getCode())
              .isEqualTo(Status.Code.UNAVAILABLE));
    }
  }
}
