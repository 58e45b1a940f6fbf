package dev.ferry.node.cli;

import com.google.common.net.HostAndPort;
import dev.ferry.client.AdminClient;
import dev.ferry.proto.admin.StatusReply;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ferry demo}: three node processes and a secondary site; two volumes; a primary doing
 * dependent writes (each chain's next write waits for its previous ack and goes to the other
 * volume) with a live progress line; then, once the cluster has drained, the secondary is
 * checked against every acknowledged write. Exit code 0 only if it is consistent.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run 3 nodes and a secondary, write dependent updates, verify the secondary.")
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--dir", paramLabel = "DIR", description = "cluster directory (default: a new temporary one)")
  Path dir;

  @Option(names = "--base-port", paramLabel = "P", defaultValue = "7600",
      description = "node i listens on P+i and P+100+i, the secondary on P+99 (default: ${DEFAULT-VALUE})")
  int basePort;

  @Option(names = "--seconds", defaultValue = "30", description = "how long the primary writes (default: ${DEFAULT-VALUE})")
  int seconds;

  @Option(names = "--keep", description = "leave the cluster running at the end")
  boolean keep;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Path where = dir != null ? dir : Files.createTempDirectory("ferry-demo-");
    out.println("starting 3 Ferry nodes and a secondary site in " + where + " ...");
    out.flush();
    LocalCluster c = ClusterCommand.Up.up(where, 3, basePort, Map.of(), true);
    String cluster = String.join(",", c.adminAddresses());
    String secondary = c.secondary.admin();
    int verdict;
    try (AdminClient admin = new AdminClient(
        c.adminAddresses().stream().map(HostAndPort::fromString).toList(), Duration.ofSeconds(15))) {
      StatusReply s = awaitAllActive(admin, 3, Duration.ofSeconds(60));
      out.println("leader " + s.getLeader() + ", " + activeCount(s)
          + " members ACTIVE, secondary site at " + secondary);
      try {
        admin.createVolume("db-data", 1L << 30, 64L << 20, secondary);
        admin.createVolume("db-log", 256L << 20, 16L << 20, secondary);
      } catch (RuntimeException e) {
        throw new IllegalStateException("creating the demo's volumes failed: " + e.getMessage()
            + "; members: " + describeMembers(admin.status(), where), e);
      }
      out.println("volumes db-data (1GiB, 16 portions) and db-log (256MiB, 16 portions), both "
          + "replicated to " + secondary);
      out.printf("a primary writes dependent updates for %d s (8 chains; each write waits for "
          + "the previous ack of its chain and goes to the other volume):%n", seconds);
      out.flush();

      Path ledger = where.resolve("demo-ledger.csv");
      Files.deleteIfExists(ledger);
      int load = nested().execute("load", "--cluster", cluster, "--volumes", "db-data,db-log",
          "--size", "4KiB", "--seconds", String.valueOf(seconds), "--inflight", "8", "--dependent",
          "--show-epochs", "--ledger", ledger.toString(), "--primary-id", "demo");
      long lastEpoch = Files.readAllLines(ledger).stream()
          .mapToLong(l -> Long.parseLong(l.split(",")[6])).max().orElse(0);
      out.printf("waiting until the secondary has applied epoch %d ...%n", lastEpoch);
      out.flush();
      Instant deadline = Instant.now().plusSeconds(60);
      while (admin.status().getConsistentEpoch() < lastEpoch && Instant.now().isBefore(deadline)) {
        Thread.sleep(200); // a CLI waiting for the cluster to drain, not a test
      }
      int check = nested().execute("verify", "--secondary", secondary, "--ledger", ledger.toString());
      boolean ok = load == 0 && check == 0;
      out.println(ok
          ? "VERDICT: consistent. The secondary holds every acknowledged write of the epochs it "
              + "applied, and nothing of a later one."
          : "VERDICT: NOT consistent (load exit " + load + ", verify exit " + check
              + "); see the lines above and the logs in " + where);
      verdict = ok ? 0 : FerryCli.FAILED;
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
    return verdict;
  }

  /**
   * Waits (a slow machine starts JVMs slowly) until {@code n} members are ACTIVE; the last
   * status either way.
   */
  private static StatusReply awaitAllActive(AdminClient admin, int n, Duration within)
      throws InterruptedException {
    Instant deadline = Instant.now().plus(within);
    StatusReply s = admin.status();
    while (activeCount(s) < n && Instant.now().isBefore(deadline)) {
      Thread.sleep(200); // a CLI waiting for the cluster to form, not a test
      s = admin.status();
    }
    return s;
  }

  private static long activeCount(StatusReply s) {
    return s.getMembersList().stream()
        .filter(m -> m.getState() == dev.ferry.proto.control.MemberState.ACTIVE).count();
  }

  /** Each member's state, and where to look for those that are not ACTIVE. */
  private static String describeMembers(StatusReply s, Path where) {
    StringBuilder b = new StringBuilder();
    for (var m : s.getMembersList()) {
      b.append(b.length() == 0 ? "" : ", ").append(m.getId()).append(' ').append(m.getState());
      if (m.getState() != dev.ferry.proto.control.MemberState.ACTIVE) {
        b.append(" (why: ").append(where.resolve(m.getId()).resolve("node.log"))
            .append(" and the leader ").append(s.getLeader()).append("'s node.log)");
      }
    }
    return b.toString();
  }

  /** The ferry command line, writing to this command's output and error streams. */
  private CommandLine nested() {
    CommandLine cl = FerryCli.commandLine();
    cl.setOut(spec.commandLine().getOut());
    cl.setErr(spec.commandLine().getErr());
    return cl;
  }
}
