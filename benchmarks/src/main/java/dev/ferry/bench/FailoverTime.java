package dev.ferry.bench;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.ferry.client.AdminClient;
import dev.ferry.client.PrimaryClient;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.PortionPlacement;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Failover and join times of a local cluster of real node processes (issue 5), measured over
 * many trials: each trial kills (-9) a node that is not the Raft leader and owns portions,
 * times how long until a write to one of its portions, sent right after the kill, is
 * acknowledged (detection + MarkFailed + handoff + the primary finding the new owner), then
 * starts it again and times how long until it owns portions again (rejoin as a new
 * incarnation at an epoch end). Ack latencies of a steady writer are recorded before the kill
 * and while the node rejoins. Usage (after mvn package):
 * {@code java -cp benchmarks/target/ferry-benchmarks-*.jar dev.ferry.bench.FailoverTime
 * node/target/ferry.jar DIR TRIALS}
 */
public final class FailoverTime {
  private static final int NODES = 4;
  private static final int BASE_PORT = 7600;

  private final Path jar;
  private final Path dir;
  private final String cluster;

  private FailoverTime(Path jar, Path dir) {
    this.jar = jar;
    this.dir = dir;
    StringBuilder c = new StringBuilder();
    for (int i = 1; i <= NODES; i++) {
      c.append(i == 1 ? "" : ",").append("127.0.0.1:").append(BASE_PORT + i);
    }
    this.cluster = c.toString();
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: FailoverTime FERRY_JAR DIR TRIALS");
      System.exit(2);
    }
    new FailoverTime(Path.of(args[0]), Path.of(args[1])).run(Integer.parseInt(args[2]));
  }

  private void ferry(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("java", "-jar", jar.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("ferry " + String.join(" ", args) + " failed");
    }
  }

  private long pid(String member) throws IOException {
    JsonObject c = JsonParser.parseString(Files.readString(dir.resolve("cluster.json"))).getAsJsonObject();
    for (var n : c.getAsJsonArray("nodes")) {
      if (n.getAsJsonObject().get("id").getAsString().equals(member)) {
        return n.getAsJsonObject().get("pid").getAsLong();
      }
    }
    throw new IllegalStateException("no node " + member);
  }

  private void run(int trials) throws Exception {
    try {
      ferry("cluster", "down", "--dir", dir.toString());
    } catch (IllegalStateException e) {
      // nothing was running there
    }
    if (Files.exists(dir)) {
      try (var files = Files.walk(dir)) { // a fresh cluster each run
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
    ferry("cluster", "up", "--nodes", String.valueOf(NODES), "--dir", dir.toString(),
        "--secondary", "--base-port", String.valueOf(BASE_PORT));
    String secondary = "127.0.0.1:" + (BASE_PORT + 99);
    ferry("admin", "--cluster", cluster, "volume", "create", "fo", "--size", "256MiB",
        "--region-size", "4MiB", "--secondary", secondary);
    Histogram failover = new Histogram(3);
    Histogram join = new Histogram(3);
    Histogram steady = new Histogram(3);
    Histogram joining = new Histogram(3);
    byte[] block = new byte[4096];
    try (AdminClient admin = new AdminClient(AdminClient.parseAddresses(cluster), Duration.ofSeconds(2));
        PrimaryClient primary = new PrimaryClient(AdminClient.parseAddresses(cluster), "failover-bench",
            8, Duration.ofSeconds(60))) {
      for (int t = 1; t <= trials; t++) {
        String leader = admin.status().getLeader();
        PortionPlacement target = null;
        for (PortionPlacement p : admin.assignment().getPlacementsList()) {
          if (!p.getOwner().equals(leader)) {
            target = p;
            break;
          }
        }
        String victim = target.getOwner();
        long offset = target.getRegion() * (4L << 20);
        for (int i = 0; i < 50; i++) { // steady state: writes to the victim's portion
          long sent = System.nanoTime();
          primary.write("fo", offset + (i % 256) * 4096L, block).get(60, TimeUnit.SECONDS);
          steady.recordValue(Math.max(1, (System.nanoTime() - sent) / 1000));
        }
        ProcessHandle.of(pid(victim)).orElseThrow().destroyForcibly();
        long killed = System.nanoTime();
        primary.write("fo", offset, block).get(60, TimeUnit.SECONDS);
        long failoverMillis = (System.nanoTime() - killed) / 1_000_000;
        failover.recordValue(Math.max(1, failoverMillis));
        // rejoin: start it again; it joins as a new incarnation and takes portions at an epoch end
        long started = System.nanoTime();
        ferry("cluster", "start", "--dir", dir.toString(), "--node", victim);
        while (!owns(admin, victim)) {
          long sent = System.nanoTime();
          primary.write("fo", offset + 4096, block).get(60, TimeUnit.SECONDS);
          joining.recordValue(Math.max(1, (System.nanoTime() - sent) / 1000));
        }
        long joinMillis = (System.nanoTime() - started) / 1_000_000;
        join.recordValue(Math.max(1, joinMillis));
        System.out.printf("trial %d: killed %s (owner of fo/%d): writes acknowledged again after %d ms;"
            + " started again, owning portions after %d ms%n", t, victim, target.getRegion(),
            failoverMillis, joinMillis);
      }
    } finally {
      ferry("cluster", "down", "--dir", dir.toString());
    }
    System.out.printf("failover (kill -9 of an owner -> a write to its portion acknowledged): %d trials,"
        + " p50 %d ms, p99 %d ms, max %d ms%n", failover.getTotalCount(),
        failover.getValueAtPercentile(50), failover.getValueAtPercentile(99), failover.getMaxValue());
    System.out.printf("join (cluster start of the killed node -> it owns portions): p50 %d ms, p99 %d ms,"
        + " max %d ms%n", join.getValueAtPercentile(50), join.getValueAtPercentile(99), join.getMaxValue());
    System.out.printf("ack latency, one writer: steady p50 %d us, p99 %d us; while the node rejoins p50 %d us,"
        + " p99 %d us (%d writes)%n", steady.getValueAtPercentile(50), steady.getValueAtPercentile(99),
        joining.getValueAtPercentile(50), joining.getValueAtPercentile(99), joining.getTotalCount());
  }

  private static boolean owns(AdminClient admin, String member) {
    var status = admin.status();
    boolean active = status.getMembersList().stream()
        .anyMatch(m -> m.getId().equals(member) && m.getState() == MemberState.ACTIVE);
    return active && admin.assignment().getPlacementsList().stream()
        .anyMatch(p -> p.getOwner().equals(member));
  }
}
