package dev.ferry.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A peer that comes back on its address is reached at once over the old channel: gRPC's
 * reconnect backoff (a second or more after a failed attempt, calls failing fast meanwhile) is
 * cut short.
 */
class ReconnectTest {
  private static Server serve(int port) throws Exception {
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("", ServingStatus.SERVING);
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
        .addService(health.getHealthService()).build().start();
  }

  private static ServingStatus check(ManagedChannel ch) {
    return HealthGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance()).getStatus();
  }

  @Test
  void aRestartedPeerIsReachedAtOnceOverTheOldChannel() throws Exception {
    Server server = serve(0);
    int port = server.getPort();
    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    try {
      assertThat(check(Reconnect.now(ch))).isEqualTo(ServingStatus.SERVING);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      // calls until one's connection attempt is refused: gRPC waits 1 s (+-20%) before another
      await().atMost(Duration.ofSeconds(10)).until(() -> {
        assertThatThrownBy(() -> check(ch)).isInstanceOf(StatusRuntimeException.class);
        return ch.getState(false) == ConnectivityState.TRANSIENT_FAILURE;
      });
      server = serve(port);
      // without Reconnect every call fails at once (UNAVAILABLE) until that second is over
      await().atMost(Duration.ofMillis(600)).pollInterval(Duration.ofMillis(50))
          .ignoreExceptions().until(() -> check(Reconnect.now(ch)) == ServingStatus.SERVING);
    } finally {
      ch.shutdownNow();
      server.shutdownNow();
    }
  }
}
