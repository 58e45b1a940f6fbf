package dev.ferry.node.cli;

import dev.ferry.node.FerryNode;
import dev.ferry.node.config.NodeConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.logging.log4j.LogManager;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ferry node --config FILE}: one node in the foreground until SIGTERM. */
@Command(name = "node", mixinStandardHelpOptions = true,
    description = "Run one Ferry node in the foreground (stops cleanly on SIGTERM).")
final class NodeCommand implements Callable<Integer> {
  @Option(names = "--config", paramLabel = "FILE",
      description = "properties file; see docs/CONFIGURATION.md for every key and its default")
  Path config;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "override one configuration key (repeatable)")
  Map<String, String> overrides = new LinkedHashMap<>();

  @Option(names = "--join", paramLabel = "HOST:PORT",
      description = "join a running cluster through this member (same as cluster.join)")
  String join;

  @Override
  public Integer call() throws Exception {
    Map<String, String> all = new LinkedHashMap<>(overrides);
    if (join != null) {
      all.put("cluster.join", join);
    }
    NodeConfig cfg = NodeConfig.load(config, all);
    FerryNode node = new FerryNode(cfg);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      node.close();
      LogManager.shutdown();
    }, "ferry-shutdown"));
    node.start();
    node.awaitTermination();
    return 0;
  }
}
