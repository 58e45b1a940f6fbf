package dev.ferry.node.cli;

import dev.ferry.proto.admin.StatusReply;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ferry cluster up|down|add|start}: a local cluster of node processes. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
    description = "Run a local cluster of node processes in the background.",
    subcommands = {ClusterCommand.Up.class, ClusterCommand.Down.class, ClusterCommand.Add.class,
        ClusterCommand.Start.class, ClusterCommand.Partition.class, ClusterCommand.Heal.class})
final class ClusterCommand {
  static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
  /** SIGTERM, then SIGKILL after this long (cluster down, a cluster up that failed). */
  static final Duration STOP_GRACE = Duration.ofSeconds(10);

  @Command(name = "up", mixinStandardHelpOptions = true,
      description = "Start N nodes, wait until a leader is elected and all are members, write DIR/cluster.json.")
  static final class Up implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--nodes", defaultValue = "3", description = "number of nodes, 1-9 (default: ${DEFAULT-VALUE})")
    int count;

    @Option(names = "--dir", required = true, paramLabel = "DIR") Path dir;

    @Option(names = "--base-port", paramLabel = "P", defaultValue = "" + LocalCluster.DEFAULT_BASE_PORT,
        description = "node i listens on P+i (gRPC) and P+100+i (Raft) (default: ${DEFAULT-VALUE})")
    int basePort;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
        description = "a configuration key for every node's config file (repeatable)")
    java.util.Map<String, String> settings = new java.util.LinkedHashMap<>();

    @Option(names = "--secondary",
        description = "also start a secondary site on P+99 (its store in DIR/secondary)")
    boolean withSecondary;

    @Option(names = "--copies", paramLabel = "N",
        description = "durable copies of every update (2..7; 'ferry admin copies'), set before any"
            + " volume exists (default: the cluster's, 2 for a new one)")
    Integer copies;

    @Option(names = "--netns", paramLabel = "K",
        description = "run every process in a network namespace of its own on subnet"
            + " 198.18.K.0/24 (node i at .i, the secondary at .99, this machine at .254), so"
            + " that 'cluster partition' can cut nodes apart; needs root and iproute2")
    Integer netns;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      LocalCluster c = up(dir, count, basePort, settings, withSecondary, netns);
      if (copies != null) {
        try (dev.ferry.client.AdminClient a = new dev.ferry.client.AdminClient(
            c.adminAddresses().stream().map(com.google.common.net.HostAndPort::fromString).toList(),
            java.time.Duration.ofSeconds(15))) {
          a.setCopies(copies);
        }
      }
      out.printf("cluster of %d nodes up in %s, leader %s%s%n", c.nodes.size(), c.dir,
          c.awaitActive(c.nodes.size(), READY_TIMEOUT).getLeader(),
          copies == null ? "" : ", " + copies + " copies per update");
      for (LocalCluster.Node n : c.nodes) {
        out.printf("  %s  pid %-8d admin %-16s raft %s%n", n.id(), n.pid(), n.admin(), n.raft());
      }
      if (c.secondary != null) {
        out.printf("  secondary  pid %-8d address %s  dir %s%n", c.secondary.pid(),
            c.secondary.admin(), c.secondary.dir());
      }
      out.flush();
      return 0;
    }

    /** Starts the cluster (or restarts the stopped nodes of an existing one) and waits for it. */
    static LocalCluster up(Path dir, int count, int basePort, java.util.Map<String, String> settings,
        boolean withSecondary) throws IOException, InterruptedException {
      return up(dir, count, basePort, settings, withSecondary, null);
    }

    /** As above, in network namespaces on 198.18.{@code netns}.0/24 unless it is null. */
    static LocalCluster up(Path dir, int count, int basePort, java.util.Map<String, String> settings,
        boolean withSecondary, Integer netns) throws IOException, InterruptedException {
      dev.ferry.node.config.NodeConfig.fromMap(settings, dir); // reject unknown keys up front
      if (count < 1 || count > 9) {
        throw new IllegalArgumentException("--nodes must be between 1 and 9, got " + count);
      }
      Files.createDirectories(dir);
      Optional<LocalCluster> existing = LocalCluster.read(dir);
      LocalCluster c;
      if (existing.isPresent()) {
        c = existing.get();
        if (c.nodes.stream().anyMatch(n -> n.process().isPresent())) {
          throw new IllegalStateException("a cluster is already running in " + dir
              + " ('ferry cluster down --dir " + dir + "' first)");
        }
      } else {
        c = new LocalCluster(dir, basePort, List.of(), settings);
        if (netns != null) {
          c.network = new LocalNetwork(netns);
        }
        for (int i = 1; i <= count; i++) {
          c.nodes.add(c.newNode(i));
        }
        c.clearStaleNetwork();
      }
      String peers = c.nodes.stream().map(n -> n.id() + "=" + n.raft())
          .collect(Collectors.joining(","));
      List<LocalCluster.Node> started = new ArrayList<>();
      try {
        try {
          if (withSecondary && c.secondary == null) {
            c.secondary = c.newSecondary();
          }
          if (c.secondary != null) {
            c.secondary = c.startSecondary(c.secondary);
          }
          for (LocalCluster.Node n : c.nodes) {
            started.add(c.start(n, peers, null));
          }
        } finally {
          c.nodes.clear();
          c.nodes.addAll(started);
          c.write();
        }
        c.awaitActive(c.nodes.size(), READY_TIMEOUT);
      } catch (IOException | RuntimeException e) {
        // a cluster that does not come up is not left half running (issue 16): the processes
        // it started would hold their ports and load the machine; their logs stay in DIR
        c.stop(STOP_GRACE);
        c.removeNetwork();
        throw new IOException(e.getMessage() + "; stopped the processes this command started",
            e);
      }
      return c;
    }
  }

  @Command(name = "down", mixinStandardHelpOptions = true,
      description = "Stop the cluster's nodes: SIGTERM, then SIGKILL after 10 s.")
  static final class Down implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--dir", required = true, paramLabel = "DIR") Path dir;

    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.require(dir);
      PrintWriter out = spec.commandLine().getOut();
      c.stop(STOP_GRACE).forEach(out::println);
      c.removeNetwork();
      out.flush();
      return 0;
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Start one more node that joins the running cluster in DIR.")
  static final class Add implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--dir", required = true, paramLabel = "DIR") Path dir;

    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.require(dir);
      String join = c.nodes.stream().filter(n -> n.process().isPresent()).map(LocalCluster.Node::admin)
          .collect(Collectors.joining(","));
      if (join.isEmpty()) {
        throw new IllegalStateException("no node of the cluster in " + dir + " is running");
      }
      int next = c.nodes.stream().mapToInt(n -> Integer.parseInt(n.id().substring(1))).max().orElse(0) + 1;
      LocalCluster.Node n = c.start(c.newNode(next), null, join);
      c.nodes.add(n);
      c.write();
      StatusReply s = c.awaitActive(c.nodes.size(), READY_TIMEOUT);
      spec.commandLine().getOut().printf("%s joined (pid %d, admin %s), leader %s%n", n.id(),
          n.pid(), n.admin(), s.getLeader());
      spec.commandLine().getOut().flush();
      return 0;
    }
  }

  @Command(name = "start", mixinStandardHelpOptions = true,
      description = "Start a stopped (or killed) node, or the secondary (--node secondary), again.")
  static final class Start implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--dir", required = true, paramLabel = "DIR") Path dir;
    @Option(names = "--node", required = true, paramLabel = "ID") String id;

    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.require(dir);
      if (id.equals("secondary") && c.secondary != null) {
        if (c.secondary.process().isPresent()) {
          throw new IllegalStateException("the secondary is already running");
        }
        c.secondary = c.startSecondary(c.secondary);
        c.write();
        spec.commandLine().getOut().printf("secondary started (pid %d)%n", c.secondary.pid());
        spec.commandLine().getOut().flush();
        return 0;
      }
      int i = -1;
      for (int k = 0; k < c.nodes.size(); k++) {
        if (c.nodes.get(k).id().equals(id)) {
          i = k;
        }
      }
      if (i < 0) {
        throw new IllegalArgumentException("no node '" + id + "' in " + dir);
      }
      if (c.nodes.get(i).process().isPresent()) {
        throw new IllegalStateException("node " + id + " is already running");
      }
      LocalCluster.Node n = c.start(c.nodes.get(i), null, null);
      c.nodes.set(i, n);
      c.write();
      spec.commandLine().getOut().printf("%s started (pid %d)%n", n.id(), n.pid());
      spec.commandLine().getOut().flush();
      return 0;
    }
  }

  @Command(name = "partition", mixinStandardHelpOptions = true,
      description = "Cut a node off from the other nodes (a cluster started with --netns):"
          + " primaries and the secondary still reach it. 'cluster heal' ends it.")
  static final class Partition implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--dir", required = true, paramLabel = "DIR") Path dir;
    @Option(names = "--node", required = true, paramLabel = "ID") String id;

    @Override
    public Integer call() throws Exception {
      LocalCluster.require(dir).partition(id);
      spec.commandLine().getOut().printf("%s cut off from the other nodes%n", id);
      spec.commandLine().getOut().flush();
      return 0;
    }
  }

  @Command(name = "heal", mixinStandardHelpOptions = true,
      description = "End every partition of a cluster started with --netns.")
  static final class Heal implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Option(names = "--dir", required = true, paramLabel = "DIR") Path dir;

    @Override
    public Integer call() throws Exception {
      LocalCluster.require(dir).heal();
      spec.commandLine().getOut().println("every partition healed");
      spec.commandLine().getOut().flush();
      return 0;
    }
  }
}
