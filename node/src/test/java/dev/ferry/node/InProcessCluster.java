package dev.ferry.node;

import static org.awaitility.Awaitility.await;

import com.google.common.net.HostAndPort;
import dev.ferry.client.AdminClient;
import dev.ferry.node.config.NodeConfig;
import dev.ferry.node.journal.Disk;
import dev.ferry.proto.control.MemberState;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** N real Ferry nodes (Ratis peers + gRPC servers on loopback) inside the test JVM. */
public final class InProcessCluster implements AutoCloseable {
  public final List<FerryNode> nodes = new ArrayList<>();
  public final List<String> admins = new ArrayList<>();
  /** Where each node takes primaries' writes (its own port when separateIngest). */
  public final List<String> ingests = new ArrayList<>();
  private final List<NodeConfig> configs = new ArrayList<>();
  private final java.util.function.IntFunction<Disk> disks;

  public InProcessCluster(Path dir, int count) throws IOException {
    this(dir, count, Map.of(), i -> Disk.REAL);
  }

  /**
   * @param settings extra configuration keys for every node
   * @param disks the journal disk of node i (0-based)
   */
  public InProcessCluster(Path dir, int count, Map<String, String> settings,
      java.util.function.IntFunction<Disk> disks) throws IOException {
    this(dir, count, settings, disks, false);
  }

  /** @param separateIngest each node takes primaries' writes on a port of its own */
  public InProcessCluster(Path dir, int count, Map<String, String> settings,
      java.util.function.IntFunction<Disk> disks, boolean separateIngest) throws IOException {
    this.disks = disks;
    int[] ports = freePorts(3 * count);
    StringBuilder peers = new StringBuilder();
    for (int i = 0; i < count; i++) {
      peers.append(i == 0 ? "" : ",").append("n").append(i + 1).append("=127.0.0.1:").append(ports[count + i]);
    }
    for (int i = 0; i < count; i++) {
      Map<String, String> m = new HashMap<>();
      m.put("node.id", "n" + (i + 1));
      m.put("node.dir", dir.resolve("n" + (i + 1)).toString());
      m.put("node.listen", "127.0.0.1:" + ports[i]);
      m.put("raft.listen", "127.0.0.1:" + ports[count + i]);
      m.put("cluster.peers", peers.toString());
      m.put("coordinator.tick", "50ms");
      m.put("raft.election.timeout.min", "300ms");
      m.put("raft.election.timeout.max", "600ms");
      // small regions keep test volumes small (several tests use 64 KiB ones)
      m.put("volume.min.region.size", "4KiB");
      m.putAll(settings);
      String ingest = "127.0.0.1:" + (separateIngest ? ports[2 * count + i] : ports[i]);
      if (separateIngest) {
        m.put("ingest.listen", ingest);
      }
      ingests.add(ingest);
      configs.add(NodeConfig.fromMap(m, dir));
      nodes.add(new FerryNode(configs.get(i), disks.apply(i)));
      admins.add("127.0.0.1:" + ports[i]);
    }
    for (FerryNode n : nodes) {
      n.start();
    }
    try (AdminClient c = client()) {
      await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
        var s = c.status();
        return !s.getLeader().isEmpty() && s.getMembersList().stream()
            .filter(x -> x.getState() == MemberState.ACTIVE).count() == count;
      });
    }
    // a node numbers writes only after its first barrier since start (DataPlane#inBarrier);
    // without this wait a test's first write may be refused UNAVAILABLE on a slow machine.
    // Not when the test drives the barrier by hand (an epoch period of an hour, say)
    if (configs.get(0).ctsPeriod().compareTo(Duration.ofSeconds(10)) < 0) {
      await().atMost(Duration.ofSeconds(30)).until(() -> nodes.stream()
          .allMatch(n -> n.data().inBarrier()));
    }
  }

  /** Stops node i (0-based); its storage stays for {@link #restart}. */
  public void stop(int i) {
    nodes.get(i).close();
  }

  /** Starts node i again on the storage and ports it had; {@link #stop} it first. */
  public void restart(int i) throws IOException {
    FerryNode node = new FerryNode(configs.get(i), disks.apply(i));
    nodes.set(i, node);
    node.start();
  }

  /** Creates a volume and waits until every node has applied it. */
  public void createVolume(String name, long size, long regionSize, String secondary) {
    try (AdminClient c = client()) {
      c.createVolume(name, size, regionSize, secondary);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> nodes.stream()
        .allMatch(n -> n.raft().state().volumes().containsKey(name)));
  }

  /** Index (0-based) of the node that owns, or mirrors, a region of a volume. */
  public int ownerOf(String volume, int region) {
    return Integer.parseInt(nodes.get(0).raft().state().assignment().get(volume).owner(region)
        .substring(1)) - 1;
  }

  public int mirrorOf(String volume, int region) {
    return Integer.parseInt(nodes.get(0).raft().state().assignment().get(volume).mirror(region)
        .substring(1)) - 1;
  }

  public AdminClient client() {
    return client(admins);
  }

  public static AdminClient client(List<String> addresses) {
    return new AdminClient(addresses.stream().map(HostAndPort::fromString).toList(),
        Duration.ofSeconds(10));
  }

  public String leader() {
    try (AdminClient c = client()) {
      return c.status().getLeader();
    }
  }

  /**
   * Waits until the leading coordinator has held back {@code rounds} more barrier rounds
   * (cts.max.pending reached: closed epochs wait for the secondary) from now: the consistent
   * point had that long to move, and the pipeline is stuck behind it. Stands in for "epochs
   * went on closing", which they no longer do while the secondary lags.
   */
  public void awaitBarrierHeldBack(int rounds) {
    java.util.function.LongSupplier held = () -> nodes.stream()
        .mapToLong(n -> n.coordinator().stats().roundsHeldBack()).sum();
    long from = held.getAsLong();
    await().atMost(Duration.ofSeconds(30)).until(() -> held.getAsLong() >= from + rounds);
  }

  /** The admin address of a node that is not the leader. */
  public String followerAdmin() {
    String leader = leader();
    for (int i = 0; i < nodes.size(); i++) {
      if (!("n" + (i + 1)).equals(leader)) {
        return admins.get(i);
      }
    }
    throw new IllegalStateException("no follower");
  }

  private static int[] freePorts(int n) throws IOException {
    int[] out = new int[n];
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0);
        held.add(s);
        out[i] = s.getLocalPort();
      }
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
    return out;
  }

  @Override
  public void close() {
    nodes.forEach(FerryNode::close);
  }
}
