package dev.ferry.node.cli;

import com.google.common.net.HostAndPort;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.ferry.client.AdminClient;
import dev.ferry.proto.admin.StatusReply;
import dev.ferry.proto.control.MemberState;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Collectors;

/**
 * A cluster of node processes on this machine, described by {@code DIR/cluster.json}:
 * {@code {"basePort":P,"nodes":[{"id","pid","admin","raft","dir"}, ...],"settings":{...}}}, and
 * {@code "netns":K} when it runs in network namespaces ({@link LocalNetwork}). Node {@code i}
 * (1-based) listens on {@code P+i} (gRPC) and {@code P+100+i} (Raft), at 127.0.0.1 or, with
 * namespaces, at 198.18.K.i; its config, storage and log are under {@code DIR/n<i>/}. The
 * processes outlive the command that started them.
 */
final class LocalCluster {
  static final int DEFAULT_BASE_PORT = 7200;
  /** The secondary's host name in a {@link LocalNetwork}. */
  private static final String SECONDARY_HOST = "sec";
  private static final Duration POLL = Duration.ofMillis(200);
  /**
   * System properties for a program that runs this code in its own JVM (a test harness): the
   * classpath started nodes and secondaries run with, and their JVM options (instead of the
   * environment's FERRY_NODE_JAVA_OPTS, which such a program cannot set for itself).
   */
  static final String LAUNCH_CLASSPATH = "ferry.launch.classpath";
  static final String LAUNCH_JAVA_OPTS = "ferry.launch.javaOpts";

  /** One node of the manifest. */
  record Node(String id, long pid, String admin, String raft, String dir) {
    HostAndPort adminAddress() {
      return HostAndPort.fromString(admin);
    }

    Path configFile() {
      return Path.of(dir, "ferry.properties");
    }

    Optional<ProcessHandle> process() {
      // the pid may have been reused: only a process running this node's config counts
      return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(p -> p.info()
          .commandLine().map(c -> c.contains(dir)).orElse(false));
    }

    Node withPid(long newPid) {
      return new Node(id, newPid, admin, raft, dir);
    }
  }

  final Path dir;
  final int basePort;
  final List<Node> nodes;
  /** Extra configuration keys written into every new node's config file. */
  final Map<String, String> settings;
  /** The secondary site process, if the cluster has one (id "secondary", admin = its address). */
  Node secondary;
  /** The namespaces the processes run in ({@code cluster up --netns}), or null: loopback. */
  LocalNetwork network;

  LocalCluster(Path dir, int basePort, List<Node> nodes, Map<String, String> settings) {
    this.dir = dir.toAbsolutePath().normalize();
    this.basePort = basePort;
    this.nodes = new ArrayList<>(nodes);
    this.settings = new LinkedHashMap<>(settings);
  }

  static Path manifest(Path dir) {
    return dir.resolve("cluster.json");
  }

  static Optional<LocalCluster> read(Path dir) throws IOException {
    Path file = manifest(dir);
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    JsonObject o = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    List<Node> nodes = new ArrayList<>();
    o.getAsJsonArray("nodes").forEach(e -> {
      JsonObject n = e.getAsJsonObject();
      nodes.add(new Node(n.get("id").getAsString(), n.get("pid").getAsLong(),
          n.get("admin").getAsString(), n.get("raft").getAsString(), n.get("dir").getAsString()));
    });
    int base = o.has("basePort") ? o.get("basePort").getAsInt() : DEFAULT_BASE_PORT;
    Map<String, String> settings = new LinkedHashMap<>();
    if (o.has("settings")) {
      o.getAsJsonObject("settings").entrySet()
          .forEach(e -> settings.put(e.getKey(), e.getValue().getAsString()));
    }
    LocalCluster c = new LocalCluster(dir, base, nodes, settings);
    if (o.has("netns")) {
      c.network = new LocalNetwork(o.get("netns").getAsInt());
    }
    if (o.has("secondary")) {
      JsonObject s = o.getAsJsonObject("secondary");
      c.secondary = new Node("secondary", s.get("pid").getAsLong(), s.get("address").getAsString(),
          "", s.get("dir").getAsString());
    }
    return Optional.of(c);
  }

  static LocalCluster require(Path dir) throws IOException {
    return read(dir).orElseThrow(() -> new IllegalArgumentException("no cluster.json in " + dir));
  }

  void write() throws IOException {
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("basePort", basePort);
    if (network != null) {
      o.put("netns", network.subnet);
    }
    List<Map<String, Object>> list = new ArrayList<>();
    for (Node n : nodes) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", n.id());
      m.put("pid", n.pid());
      m.put("admin", n.admin());
      m.put("raft", n.raft());
      m.put("dir", n.dir());
      list.add(m);
    }
    o.put("nodes", list);
    o.put("settings", settings);
    if (secondary != null) {
      Map<String, Object> s = new LinkedHashMap<>();
      s.put("pid", secondary.pid());
      s.put("address", secondary.admin());
      s.put("dir", secondary.dir());
      o.put("secondary", s);
    }
    Path tmp = dir.resolve("cluster.json.tmp");
    Files.writeString(tmp, Json.GSON.toJson(o) + "\n", StandardCharsets.UTF_8);
    Files.move(tmp, manifest(dir), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** A new node description: the i-th node of a cluster at {@code basePort}. */
  Node newNode(int i) {
    String host = network == null ? "127.0.0.1" : network.address(i);
    return new Node("n" + i, 0, host + ":" + (basePort + i), host + ":" + (basePort + 100 + i),
        dir.resolve("n" + i).toString());
  }

  List<String> adminAddresses() {
    return nodes.stream().map(Node::admin).toList();
  }

  /** Writes the node's config file (if it has none yet) and starts its process. */
  Node start(Node n, String peers, String join) throws IOException, InterruptedException {
    Files.createDirectories(Path.of(n.dir()));
    if (!Files.exists(n.configFile())) {
      Properties p = new Properties();
      settings.forEach(p::setProperty);
      p.setProperty("node.id", n.id());
      p.setProperty("node.dir", Path.of(n.dir(), "data").toString());
      p.setProperty("node.listen", n.admin());
      p.setProperty("raft.listen", n.raft());
      if (peers != null) {
        p.setProperty("cluster.peers", peers);
      }
      if (join != null) {
        p.setProperty("cluster.join", join);
      }
      try (Writer w = Files.newBufferedWriter(n.configFile())) {
        p.store(w, "written by ferry cluster; see docs/CONFIGURATION.md");
      }
    }
    List<String> prefix = List.of();
    if (network != null) {
      network.ensureHost(n.id(), LocalNetwork.octetOf(n.id()));
      prefix = network.execIn(n.id());
    } else {
      for (String address : List.of(n.admin(), n.raft())) {
        checkPortFree(HostAndPort.fromString(address));
      }
    }
    return n.withPid(spawn(prefix, List.of("node", "--config", n.configFile().toString()),
        Path.of(n.dir(), "node.log")));
  }

  /** The secondary site of a local cluster: listens on basePort + 99, its store in DIR/secondary. */
  Node newSecondary() {
    String host = network == null ? "127.0.0.1" : network.address(LocalNetwork.SECONDARY_OCTET);
    return new Node("secondary", 0, host + ":" + (basePort + 99), "",
        dir.resolve("secondary").toString());
  }

  /** Starts (or restarts) the secondary process over its directory. */
  Node startSecondary(Node s) throws IOException, InterruptedException {
    Files.createDirectories(Path.of(s.dir()));
    List<String> prefix = List.of();
    if (network != null) {
      network.ensureHost(SECONDARY_HOST, LocalNetwork.SECONDARY_OCTET);
      prefix = network.execIn(SECONDARY_HOST);
    } else {
      checkPortFree(HostAndPort.fromString(s.admin()));
    }
    return s.withPid(spawn(prefix, List.of("secondary", "--dir", s.dir(), "--listen", s.admin()),
        Path.of(s.dir(), "secondary.log")));
  }

  /**
   * Runs {@code ferry ARGS} as a background process of this JVM's Java, output to {@code log},
   * behind {@code prefix} (ip netns exec NS, which execs it: the pid is the JVM's).
   */
  private static long spawn(List<String> prefix, List<String> ferryArgs, Path log)
      throws IOException {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    String opts = System.getProperty(LAUNCH_JAVA_OPTS,
        System.getenv().getOrDefault("FERRY_NODE_JAVA_OPTS", "-Xmx1g -XX:+UseSerialGC"));
    for (String o : opts.trim().split("\\s+")) {
      if (!o.isEmpty()) {
        cmd.add(o);
      }
    }
    cmd.add("-Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager");
    cmd.add("-cp");
    // this JVM's classpath: the ferry jar when the CLI runs
    cmd.add(System.getProperty(LAUNCH_CLASSPATH, System.getProperty("java.class.path")));
    cmd.add(FerryCli.class.getName());
    cmd.addAll(ferryArgs);
    Process p = new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .start();
    return p.pid();
  }

  private static void checkPortFree(HostAndPort address) throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(address.getHost(), address.getPort()));
    } catch (IOException e) {
      throw new IOException("port " + address + " is in use (choose another --base-port)");
    }
  }

  /**
   * Waits until a leader is elected and {@code expectedActive} members are ACTIVE, as seen by
   * any node; returns that status.
   */
  StatusReply awaitActive(int expectedActive, Duration timeout) throws IOException, InterruptedException {
    Instant deadline = Instant.now().plus(timeout);
    String last = "no node answered";
    try (AdminClient c = new AdminClient(
        adminAddresses().stream().map(HostAndPort::fromString).toList(), Duration.ofSeconds(2))) {
      while (Instant.now().isBefore(deadline)) {
        for (Node n : nodes) {
          if (n.process().isEmpty()) {
            throw new IOException("node " + n.id() + " exited; see " + Path.of(n.dir(), "node.log"));
          }
        }
        try {
          StatusReply s = c.status();
          long active = s.getMembersList().stream()
              .filter(m -> m.getState() == MemberState.ACTIVE).count();
          if (!s.getLeader().isEmpty() && active >= expectedActive) {
            return s;
          }
          last = "leader '" + s.getLeader() + "', " + active + " of " + expectedActive
              + " members active: " + s.getMembersList().stream()
                  .map(m -> m.getId() + " " + m.getState()).collect(Collectors.joining(", "))
              + ", as " + s.getAnsweredBy() + " sees it at Raft index " + s.getAppliedIndex();
        } catch (StatusRuntimeException e) {
          last = e.getStatus().getDescription();
        }
        Thread.sleep(POLL.toMillis()); // a CLI poll, not a test: nothing to subscribe to
      }
    }
    throw new IOException("cluster in " + dir + " not ready after " + timeout.toSeconds() + " s ("
        + last + "); see the node.log files there");
  }

  /** The network namespaces' hosts: every node, and the secondary's if there is one. */
  private List<String> networkHosts() {
    List<String> hosts = new ArrayList<>(nodes.stream().map(Node::id).toList());
    if (secondary != null) {
      hosts.add(SECONDARY_HOST);
    }
    return hosts;
  }

  private LocalNetwork requireNetwork() {
    if (network == null) {
      throw new IllegalStateException("the cluster in " + dir + " runs on loopback, where"
          + " nothing tells its nodes' connections apart: start it with 'cluster up --netns K'");
    }
    return network;
  }

  /** Cuts node {@code id} off from every other node (primaries and the secondary still reach it). */
  void partition(String id) throws IOException, InterruptedException {
    LocalNetwork net = requireNetwork();
    if (nodes.stream().noneMatch(n -> n.id().equals(id))) {
      throw new IllegalArgumentException("no node '" + id + "' in " + dir);
    }
    net.partition(id, nodes.stream().map(Node::id).filter(other -> !other.equals(id)).toList());
  }

  /** Ends every partition. */
  void heal() throws IOException, InterruptedException {
    requireNetwork().heal(networkHosts());
  }

  /**
   * Before a new cluster starts in network namespaces: those of its hosts (every node, and the
   * secondary's whether it has one yet or not) left by a cluster not brought down go
   * ({@link LocalNetwork#clearStale}).
   */
  void clearStaleNetwork() throws IOException, InterruptedException {
    if (network != null) {
      List<String> hosts = new ArrayList<>(nodes.stream().map(Node::id).toList());
      hosts.add(SECONDARY_HOST);
      network.clearStale(hosts);
    }
  }

  /** Deletes the network namespaces, if the cluster has them (after {@link #stop}). */
  void removeNetwork() throws IOException, InterruptedException {
    if (network != null) {
      network.remove(networkHosts());
    }
  }

  /** SIGTERM to every running node, SIGKILL to those still running after {@code grace}. */
  List<String> stop(Duration grace) {
    Map<Node, ProcessHandle> running = new LinkedHashMap<>();
    List<Node> all = new ArrayList<>(nodes);
    if (secondary != null) {
      all.add(secondary);
    }
    for (Node n : all) {
      n.process().ifPresent(p -> {
        p.destroy();
        running.put(n, p);
      });
    }
    Instant deadline = Instant.now().plus(grace);
    List<String> report = new ArrayList<>();
    for (Node n : all) {
      ProcessHandle p = running.get(n);
      if (p == null) {
        report.add(n.id() + " was not running");
        continue;
      }
      long left = Math.max(0, Duration.between(Instant.now(), deadline).toMillis());
      try {
        p.onExit().get(left, java.util.concurrent.TimeUnit.MILLISECONDS);
        report.add(n.id() + " (pid " + n.pid() + ") stopped");
      } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
        p.destroyForcibly();
        report.add(n.id() + " (pid " + n.pid() + ") killed: still running " + grace.toSeconds()
            + " s after SIGTERM");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
        report.add(n.id() + " (pid " + n.pid() + ") killed: interrupted");
      }
    }
    return report;
  }
}
