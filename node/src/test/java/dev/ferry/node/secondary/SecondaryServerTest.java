package dev.ferry.node.secondary;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.net.HostAndPort;
import dev.ferry.node.cli.FerryCli;
import dev.ferry.proto.secondary.SecondaryGrpc;
import dev.ferry.proto.secondary.StatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The process around the store: the gRPC server and {@code ferry secondary}'s refusals. */
class SecondaryServerTest {
  @TempDir Path dir;

  @Test
  void servesTheSecondaryAndHealthServicesOverTcp() throws Exception {
    try (SecondaryServer server =
        SecondaryServer.start(dir, HostAndPort.fromString("127.0.0.1:0"))) {
      ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port())
          .usePlaintext().build();
      try {
        assertThat(HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.newBuilder().setService(SecondaryGrpc.SERVICE_NAME).build())
            .getStatus()).isEqualTo(ServingStatus.SERVING);
        assertThat(SecondaryGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
            .status(StatusRequest.getDefaultInstance()).getAppliedEpoch()).isZero();
      } finally {
        channel.shutdownNow();
      }
    }
  }

  private record Run(int exit, String err) {}

  private static Run ferry(String... args) {
    CommandLine cl = FerryCli.commandLine();
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    return new Run(cl.execute(args), err.toString());
  }

  @Test
  void aCorruptStoreIsRefusedWithOneLineNamingFileAndOffset() throws Exception {
    Files.write(dir.resolve(SecondaryStore.LOG_FILE), "not a log".getBytes());

    Run r = ferry("secondary", "--dir", dir.toString(), "--listen", "127.0.0.1:0");
    assertThat(r.exit()).isEqualTo(FerryCli.FAILED);
    assertThat(r.err().strip()).isEqualTo("ferry: corrupt secondary store "
        + dir.resolve(SecondaryStore.LOG_FILE)
        + " at offset 0: not a commit log (no 'FSCL' header)");
  }

  @Test
  void aBadListenAddressIsNamed() {
    Run r = ferry("secondary", "--dir", dir.toString(), "--listen", "nowhere");
    assertThat(r.exit()).isEqualTo(FerryCli.FAILED);
    assertThat(r.err().strip()).isEqualTo("ferry: --listen: 'nowhere' is not HOST:PORT");
  }
}
