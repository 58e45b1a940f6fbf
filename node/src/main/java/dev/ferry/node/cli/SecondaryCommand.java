package dev.ferry.node.cli;

import com.google.common.net.HostAndPort;
import dev.ferry.node.secondary.SecondaryServer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.apache.logging.log4j.LogManager;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ferry secondary --dir DIR --listen HOST:PORT}: the DR-site server until SIGTERM. */
@Command(name = "secondary", mixinStandardHelpOptions = true,
    description = "Run the secondary (DR) site server over a directory in the foreground "
        + "(stops cleanly on SIGTERM).")
final class SecondaryCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--dir", required = true, paramLabel = "DIR",
      description = "the store: volume images, staging, commit log (created if absent)")
  Path dir;

  @Option(names = "--listen", required = true, paramLabel = "HOST:PORT",
      description = "address for gRPC (Secondary, health, reflection); port 0 picks a free one")
  String listen;

  @Override
  public Integer call() throws Exception {
    HostAndPort address;
    try {
      address = HostAndPort.fromString(listen);
    } catch (IllegalArgumentException e) {
      address = null;
    }
    if (address == null || !address.hasPort() || address.getHost().isEmpty()) {
      throw new IllegalArgumentException("--listen: '" + listen + "' is not HOST:PORT");
    }
    SecondaryServer server = SecondaryServer.start(dir, address);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      LogManager.shutdown();
    }, "ferry-shutdown"));
    // client commands log at WARN only: say on stdout that it is up, and where
    spec.commandLine().getOut().println("ferry secondary: serving " + dir.toAbsolutePath()
        + " on " + HostAndPort.fromParts(address.getHost(), server.port()));
    spec.commandLine().getOut().flush();
    server.awaitTermination();
    return 0;
  }
}
