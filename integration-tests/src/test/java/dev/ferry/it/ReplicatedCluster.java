package dev.ferry.it;

import java.nio.file.Path;

/**
 * A local cluster of three node processes and a secondary site (cluster up --secondary) with
 * volumes of 64 MiB in 4 MiB regions replicated to it: what the replication ITs share.
 */
final class ReplicatedCluster implements AutoCloseable {
  final Path dir;
  /** All three nodes' admin addresses, comma-separated. */
  final String cluster;
  final String secondary;

  private ReplicatedCluster(Path dir, String cluster, String secondary) {
    this.dir = dir;
    this.cluster = cluster;
    this.secondary = secondary;
  }

  static ReplicatedCluster up(String name, int basePort, String... volumes) throws Exception {
    return up(name, basePort, java.util.Map.of(), volumes);
  }

  /** As above, the processes started with extra environment variables. */
  static ReplicatedCluster up(String name, int basePort, java.util.Map<String, String> env,
      String... volumes) throws Exception {
    return up(name, basePort, 3, 2, env, volumes);
  }

  /** As above with {@code nodes} nodes and {@code copies} copies of every update. */
  static ReplicatedCluster up(String name, int basePort, int nodes, int copies,
      java.util.Map<String, String> env, String... volumes) throws Exception {
    Path dir = FerryCli.workDir(name);
    FerryCli.runWith(env, "cluster", "up", "--nodes", String.valueOf(nodes), "--dir",
        dir.toString(), "--secondary", "--base-port", String.valueOf(basePort), "--copies",
        String.valueOf(copies)).assertOk();
    StringBuilder addresses = new StringBuilder();
    for (int i = 1; i <= nodes; i++) {
      addresses.append(i == 1 ? "" : ",").append("127.0.0.1:").append(basePort + i);
    }
    String cluster = addresses.toString();
    String secondary = "127.0.0.1:" + (basePort + 99);
    for (String v : volumes) {
      FerryCli.run("admin", "--cluster", cluster, "volume", "create", v, "--size", "64MiB",
          "--region-size", "4MiB", "--secondary", secondary).assertOk();
    }
    return new ReplicatedCluster(dir, cluster, secondary);
  }

  @Override
  public void close() throws Exception {
    FerryCli.run("cluster", "down", "--dir", dir.toString());
    killStragglers();
  }

  /**
   * Kills any process of this cluster that {@code cluster down} left running (its command line
   * names the cluster's directory), and says so: a straggler would load the machine, and talk
   * Raft and Peer to the ports of the ITs after this one.
   */
  private void killStragglers() {
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
