package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code ferry load --dependent --ledger} running as its own process through an IT's event,
 * until the test stops it with SIGTERM (the load then waits for its writes in flight and prints
 * its summary). Stopping on demand, not after a fixed time, keeps the load running however
 * long a slow machine takes to inject and observe the faults.
 */
final class BackgroundLoad implements AutoCloseable {
  /** Upper bound on the load's run; a test stops it long before. */
  private static final int MAX_SECONDS = 4 * 3600;
  /** Some 80 ledger lines: enough acknowledged writes to say writes are flowing. */
  private static final long ACKS_BYTES = 4096;

  private final Process process;
  private final Path out;
  private final Path err;
  final Path ledger;

  /** Samples the ledger's growth: the longest time without any ack while the load ran. */
  private final Thread gapWatch;
  private volatile long longestGapMillis;

  private BackgroundLoad(Process process, Path out, Path err, Path ledger) {
    this.process = process;
    this.out = out;
    this.err = err;
    this.ledger = ledger;
    this.gapWatch = new Thread(this::watchGaps, "ack-gap-watch");
    gapWatch.setDaemon(true);
    gapWatch.start();
  }

  private void watchGaps() {
    long lastSize = -1;
    long lastGrowth = System.nanoTime();
    try {
      while (process.isAlive()) {
        long size = ledgerBytes();
        long now = System.nanoTime();
        if (size != lastSize) {
          if (lastSize > ACKS_BYTES) { // from the first acks on: start-up is not a gap
            longestGapMillis = Math.max(longestGapMillis, (now - lastGrowth) / 1_000_000);
          }
          lastSize = size;
          lastGrowth = now;
        }
        Thread.sleep(50); // a sampling period, not a wait for a condition
      }
    } catch (IOException | InterruptedException e) {
      // the test is over
    }
  }

  /**
   * The longest time, in ms, between two acknowledged writes seen in the ledger (sampled every
   * 50 ms) since the load was started.
   */
  long longestAckGapMillis() {
    return longestGapMillis;
  }

  /** 4 KiB writes in 8 dependent chains over {@code volumes}, every ack in {@code ledger}. */
  static BackgroundLoad start(String cluster, String volumes, Path ledger) throws IOException {
    List<String> cmd = new ArrayList<>(FerryCli.javaCommand());
    cmd.addAll(List.of("load", "--cluster", cluster, "--volumes", volumes, "--size", "4KiB",
        "--seconds", String.valueOf(MAX_SECONDS), "--inflight", "8", "--dependent", "--ledger",
        ledger.toString(), "--json"));
    // beside the ledger (in the cluster's directory when the ledger is): kept after the test,
    // and its ".log" stderr goes into the failure digest with the nodes' logs
    String name = ledger.getFileName().toString();
    Path out = ledger.resolveSibling(name + ".load.out");
    Path err = ledger.resolveSibling(name + ".load.log");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    return new BackgroundLoad(p, out, err, ledger);
  }

  /** Bytes in the ledger so far (each line is written when its write is acknowledged). */
  long ledgerBytes() throws IOException {
    return Files.exists(ledger) ? Files.size(ledger) : 0;
  }

  /** Waits until the load has had some 80 writes acknowledged. */
  void awaitStarted() {
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
        .until(() -> ledgerBytes() > ACKS_BYTES);
  }

  /**
   * Waits until some 80 more writes are acknowledged from now (writes go on after a fault), and
   * asserts the load still ran through it.
   */
  void awaitAcknowledgedAgain(java.time.Duration within) throws IOException {
    long before = ledgerBytes();
    org.awaitility.Awaitility.await().atMost(within).until(() -> ledgerBytes() > before + ACKS_BYTES);
    assertRunning("after writes were acknowledged again");
  }

  /** Asserts the load still runs: a fault injected now happens under load. */
  void assertRunning(String when) {
    assertThat(process.isAlive()).as("the load still runs %s", when).isTrue();
  }

  /** SIGTERM, then the load's exit code and output once it has drained its writes in flight. */
  FerryCli.Result stop() throws IOException, InterruptedException {
    assertRunning("when the test stops it");
    process.destroy();
    if (!process.waitFor(90, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("ferry load did not stop within 90 s of SIGTERM");
    }
    return result();
  }

  private FerryCli.Result result() throws IOException {
    return new FerryCli.Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  @Override
  public void close() throws IOException {
    process.destroyForcibly();
  }
}
