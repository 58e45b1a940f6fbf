package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** `ferry load` against a real 3-process cluster: every write acknowledged once, in the ledger. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoadIT {
  private static final int BASE_PORT = 20200;
  private Path dir;
  private String cluster;

  @BeforeAll
  void up() throws Exception {
    dir = FerryCli.workDir("load");
    FerryCli.run("cluster", "up", "--nodes", "3", "--dir", dir.toString(),
        "--base-port", String.valueOf(BASE_PORT)).assertOk();
    cluster = "127.0.0.1:" + (BASE_PORT + 1) + ",127.0.0.1:" + (BASE_PORT + 2);
    for (String v : List.of("v1", "v2")) {
      FerryCli.run("admin", "--cluster", cluster, "volume", "create", v, "--size", "64MiB",
          "--region-size", "4MiB").assertOk();
    }
  }

  @AfterAll
  void down() throws Exception {
    if (dir != null) {
      FerryCli.run("cluster", "down", "--dir", dir.toString());
    }
  }

  @Test
  void everyWriteIsAcknowledgedOnceWithAUniqueSequenceNumberPerPortion() throws Exception {
    Path ledger = dir.resolve("ledger.csv");
    FerryCli.Result r = FerryCli.run("load", "--cluster", cluster, "--volumes", "v1,v2",
        "--size", "4KiB", "--seconds", "4", "--inflight", "16", "--ledger", ledger.toString(), "--json");
    r.assertOk();
    JsonObject o = JsonParser.parseString(r.stdout()).getAsJsonObject();
    long acked = o.get("acked").getAsLong();
    assertThat(acked).isPositive();
    assertThat(o.get("errors").getAsLong()).isZero();
    assertThat(o.get("writesPerSec").getAsDouble()).isPositive();
    assertThat(o.get("p50Micros").getAsLong()).isPositive();
    assertThat(o.get("p99Micros").getAsLong()).isGreaterThanOrEqualTo(o.get("p50Micros").getAsLong());

    List<String> lines = Files.readAllLines(ledger);
    assertThat(lines).hasSize((int) acked);
    Set<String> clientSeqs = new HashSet<>();
    Set<String> positions = new HashSet<>();
    for (String line : lines) {
      String[] f = line.split(",");
      assertThat(f).hasSize(8);
      assertThat(clientSeqs.add(f[0] + "/" + f[1])).as("client seq %s acknowledged once", f[1]).isTrue();
      long region = Long.parseLong(f[3]) / (4 << 20);
      // (volume, region, epoch, n) is unique: one total order per portion
      assertThat(positions.add(f[2] + "/" + region + "/" + f[6] + "/" + f[7]))
          .as("sequence number of %s", line).isTrue();
    }
  }

  /**
   * Issue 16: the progress line was redrawn with a carriage return even into a file, so a log
   * of the load read as one line. Off a terminal it is a line a second.
   */
  @Test
  void offATerminalTheProgressIsALineASecond() throws Exception {
    FerryCli.Result r = FerryCli.run("load", "--cluster", cluster, "--volumes", "v1,v2",
        "--size", "4KiB", "--seconds", "3", "--inflight", "4");
    r.assertOk();
    assertThat(r.stderr()).doesNotContain("\r");
    assertThat(r.stderr().lines().filter(l -> l.matches("\\s*\\d+s  acked .*")).count())
        .as("progress lines in %s", r.stderr()).isGreaterThanOrEqualTo(2);
  }

  @Test
  void sigtermStopsTheLoadEarlyWithItsSummaryAndAWholeLedger() throws Exception {
    Path ledger = dir.resolve("stopped-ledger.csv");
    long started = System.nanoTime();
    FerryCli.Result r;
    try (BackgroundLoad load = BackgroundLoad.start(cluster, "v1,v2", ledger)) {
      load.awaitStarted();
      r = load.stop();
    }
    // it ran for its 900 s bound otherwise
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(120));
    r.assertOk();
    JsonObject o = JsonParser.parseString(r.stdout()).getAsJsonObject();
    assertThat(o.get("errors").getAsLong()).isZero();
    // every write acknowledged before the stop, and only those, has its ledger line
    assertThat(Files.readAllLines(ledger)).hasSize((int) o.get("acked").getAsLong());
  }
}
