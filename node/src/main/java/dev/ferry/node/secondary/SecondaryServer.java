package dev.ferry.node.secondary;

import com.google.common.net.HostAndPort;
import dev.ferry.node.journal.JournalOptions;
import dev.ferry.proto.secondary.SecondaryGrpc;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The secondary site process: a {@link SecondaryStore} over a directory, served by gRPC with the
 * Secondary, health and reflection services. A fatal store failure halts the process with the
 * status of a node's journal failure ({@value JournalOptions#FATAL_EXIT_STATUS}).
 */
public final class SecondaryServer implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(SecondaryServer.class);

  private final HealthStatusManager health;
  private final SecondaryService service;
  private final Server grpc;

  private SecondaryServer(HealthStatusManager health, SecondaryService service, Server grpc) {
    this.health = health;
    this.service = service;
    this.grpc = grpc;
  }

  /**
   * Opens the store in dir (redoing an interrupted apply first) and serves it on listen.
   *
   * @throws CorruptStoreException if the store does not verify (the message names file and
   *     offset)
   */
  public static SecondaryServer start(Path dir, HostAndPort listen) throws IOException {
    return start(dir, listen, AppliedEpochListener.NONE);
  }

  /** As {@link #start(Path, HostAndPort)}, telling {@code listener} of every epoch applied. */
  public static SecondaryServer start(Path dir, HostAndPort listen, AppliedEpochListener listener)
      throws IOException {
    SecondaryService service = new SecondaryService(
        SecondaryStore.open(dir, SecondaryServer::halt, listener));
    HealthStatusManager health = new HealthStatusManager();
    Server grpc;
    try {
      grpc = NettyServerBuilder
          .forAddress(new InetSocketAddress(listen.getHost(), listen.getPort()))
          .addService(service)
          .addService(health.getHealthService())
          .addService(ProtoReflectionServiceV1.newInstance())
          .build()
          .start();
    } catch (IOException | RuntimeException e) {
      service.close();
      throw new IOException("cannot listen on " + listen + ": " + e.getMessage(), e);
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(SecondaryGrpc.SERVICE_NAME, ServingStatus.SERVING);
    SecondaryServer server = new SecondaryServer(health, service, grpc);
    LOG.info("secondary {} serving gRPC on {}", dir, server.address(listen.getHost()));
    return server;
  }

  /** The port it listens on (useful when started on port 0). */
  public int port() {
    return grpc.getPort();
  }

  private HostAndPort address(String host) {
    return HostAndPort.fromParts(host, port());
  }

  /** Blocks until the server stops (close, usually from a shutdown hook). */
  public void awaitTermination() throws InterruptedException {
    grpc.awaitTermination();
  }

  @Override
  public void close() {
    health.enterTerminalState();
    grpc.shutdown();
    try {
      if (!grpc.awaitTermination(5, TimeUnit.SECONDS)) {
        grpc.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      grpc.shutdownNow();
    }
    service.close();
  }

  /** A secondary that cannot write must not answer anything more. */
  private static void halt(Throwable cause) {
    LOG.error("halting the secondary (exit status {}): {}", JournalOptions.FATAL_EXIT_STATUS,
        cause.getMessage());
    Runtime.getRuntime().halt(JournalOptions.FATAL_EXIT_STATUS);
  }
}
