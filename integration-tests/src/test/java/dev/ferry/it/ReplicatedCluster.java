package dev.ferry.it;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A local cluster of node processes and a secondary site (cluster up --secondary) with volumes
 * of 64 MiB in 4 MiB regions replicated to it: what the replication ITs share.
 */
final class ReplicatedCluster implements AutoCloseable {
  final Path dir;
  /** Every node's admin address, comma-separated. */
  final String cluster;
  final String secondary;

  private ReplicatedCluster(Path dir, String cluster, String secondary) {
    this.dir = dir;
    this.cluster = cluster;
    this.secondary = secondary;
  }

  /**
   * Starts {@code nodes} nodes with {@code copies} copies of every update in {@code dir}
   * (made by {@link FerryCli#workDir}), and creates the volumes; with {@code netns} not null,
   * every process runs in a network namespace of its own on 198.18.{@code netns}.0/24
   * ({@code cluster up --netns}), so that nodes can be partitioned. {@code env}: extra
   * environment of the processes.
   */
  static ReplicatedCluster up(Path dir, int basePort, int nodes, int copies, Integer netns,
      java.util.Map<String, String> env, String... volumes) throws Exception {
    List<String> args = new ArrayList<>(List.of("cluster", "up", "--nodes",
        String.valueOf(nodes), "--dir", dir.toString(), "--secondary", "--base-port",
        String.valueOf(basePort), "--copies", String.valueOf(copies)));
    if (netns != null) {
      args.addAll(List.of("--netns", netns.toString()));
    }
    FerryCli.runHere(env, args.toArray(String[]::new)).assertOk();
    // the addresses as cluster up chose them (loopback, or the namespaces' subnet)
    String cluster = FerryCli.nodes(dir).values().stream()
        .map(n -> n.get("admin").getAsString()).collect(Collectors.joining(","));
    String secondary = com.google.gson.JsonParser.parseString(
        java.nio.file.Files.readString(dir.resolve("cluster.json"))).getAsJsonObject()
        .getAsJsonObject("secondary").get("address").getAsString();
    for (String v : volumes) {
      FerryCli.runHere("admin", "--cluster", cluster, "volume", "create", v, "--size", "64MiB",
          "--region-size", "4MiB", "--secondary", secondary).assertOk();
    }
    return new ReplicatedCluster(dir, cluster, secondary);
  }

  @Override
  public void close() throws Exception {
    down(dir);
  }

  /**
   * Stops the processes of the cluster in {@code dir} ({@code cluster down}, then any left
   * running), also when {@link #up} failed half-way: else they would load the machine and talk
   * to the ITs after this one.
   */
  static void down(Path dir) throws Exception {
    if (java.nio.file.Files.exists(dir.resolve("cluster.json"))) {
      FerryCli.runHere("cluster", "down", "--dir", dir.toString());
    }
    killStragglers(dir);
  }

  /**
   * Kills any process of this cluster that {@code cluster down} left running (its command line
   * names the cluster's directory), and says so: a straggler would load the machine, and talk
   * Raft and Peer to the ports of the ITs after this one.
   */
  private static void killStragglers(Path dir) {
    String where = dir.toAbsolutePath().toString();
    ProcessHandle.allProcesses()
        .filter(p -> p.pid() != ProcessHandle.current().pid())
        .filter(p -> p.info().commandLine().map(c -> c.contains(where)).orElse(false))
        .forEach(p -> {
          System.err.println("WARN: killing pid " + p.pid() + ", left running by `cluster down`"
              + " of " + where + ": " + p.info().commandLine().orElse(""));
          p.destroyForcibly();
        });
  }
}
