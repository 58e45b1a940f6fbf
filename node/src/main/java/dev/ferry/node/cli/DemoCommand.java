package dev.ferry.node.cli;

import dev.ferry.client.AdminClient;
import dev.ferry.proto.admin.StatusReply;
import dev.ferry.proto.control.PortionPlacement;
import com.google.common.net.HostAndPort;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ferry demo}: brings up a local 3-node control plane as real processes, creates two
 * volumes through a follower, shows the balanced assignment, and stops the cluster. It grows
 * into the full replication demo as epochs and the secondary arrive.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Start a local 3-node cluster, create volumes, show status and assignment, stop.")
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--dir", paramLabel = "DIR", description = "cluster directory (default: a new temporary one)")
  Path dir;

  @Option(names = "--base-port", paramLabel = "P", defaultValue = "7600",
      description = "node i listens on P+i and P+100+i (default: ${DEFAULT-VALUE})")
  int basePort;

  @Option(names = "--keep", description = "leave the cluster running at the end")
  boolean keep;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Path where = dir != null ? dir : Files.createTempDirectory("ferry-demo-");
    out.println("starting 3 Ferry nodes in " + where + " ...");
    out.flush();
    LocalCluster c = ClusterCommand.Up.up(where, 3, basePort, java.util.Map.of(), false);
    try (AdminClient admin = new AdminClient(
        c.adminAddresses().stream().map(HostAndPort::fromString).toList(), Duration.ofSeconds(15))) {
      StatusReply s = admin.status();
      out.println("leader elected: " + s.getLeader() + "; members: " + s.getMembersCount() + " ACTIVE");
      // create the volumes through a follower: it forwards the commands to the leader
      String follower = c.nodes.stream().filter(n -> !n.id().equals(s.getLeader()))
          .findFirst().orElseThrow().admin();
      try (AdminClient viaFollower = new AdminClient(
          java.util.List.of(HostAndPort.fromString(follower)), Duration.ofSeconds(15))) {
        viaFollower.createVolume("db-data", 1L << 30, 64L << 20, "");
        viaFollower.createVolume("db-log", 256L << 20, 16L << 20, "");
      }
      out.println("created volumes db-data (1GiB, 16 portions) and db-log (256MiB, 16 portions) via "
          + follower);
      var a = admin.assignment();
      Map<String, int[]> perMember = new TreeMap<>();
      for (PortionPlacement p : a.getPlacementsList()) {
        perMember.computeIfAbsent(p.getOwner(), k -> new int[2])[0]++;
        perMember.computeIfAbsent(p.getMirror(), k -> new int[2])[1]++;
      }
      out.printf("assignment version %d: %d portions%n", a.getAssignmentVersion(), a.getPlacementsCount());
      perMember.forEach((m, n) -> out.printf("  %s owns %d, mirrors %d%n", m, n[0], n[1]));
      out.println();
      out.println("Epochs, the data path and the secondary site are not built yet: this demo shows");
      out.println("the replicated control plane only.");
    } finally {
      if (keep) {
        out.println("cluster left running: ferry cluster down --dir " + where);
      } else {
        c.stop(Duration.ofSeconds(10));
        if (dir == null) {
          com.google.common.io.MoreFiles.deleteRecursively(where,
              com.google.common.io.RecursiveDeleteOption.ALLOW_INSECURE);
        }
        out.println("cluster stopped");
      }
      out.flush();
    }
    return 0;
  }
}
