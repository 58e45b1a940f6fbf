package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The nemesis suite of issue 10 (DESIGN.md §6.1): faults injected from outside the processes
 * while a primary writes dependent chains over two volumes, then a Jepsen-style check of what
 * the primary was told against what the secondary holds. Checked after each run:
 * <ul>
 *   <li>{@code ferry verify}: every acknowledged write is at the secondary with its exact bytes
 *       up to the applied epoch, nothing of a later epoch is, and so no dependent write is
 *       there without the write it depended on (the load's chains);</li>
 *   <li>{@link LedgerChecker}: no (portion, epoch, n) was given to two writes, no write was
 *       acknowledged twice with different numbers;</li>
 *   <li>the longest time without any ack stays bounded, and the load never got a final error
 *       (its exit code).</li>
 * </ul>
 * Each round waits until every member is ACTIVE again (a paused member declared FAILED rejoins
 * as a new incarnation) and the consistent point has moved on, so every fault hits a whole
 * cluster. The tests share one cluster.
 */
class NemesisIT extends WithReplicatedCluster {
  private static final long REGION = 4 << 20; // ReplicatedCluster's region size
  /** Far above what a fault should cost (see the figures logged); a wedge takes forever. */
  private static final Duration MAX_ACK_GAP = Duration.ofSeconds(25);

  @Override
  protected String name() {
    return "nemesis";
  }

  @Override
  protected int basePort() {
    return 18600;
  }

  @Override
  protected String[] volumes() {
    return new String[] {"n1v", "n2v"};
  }

  /** Case 1: an owner stopped (SIGSTOP) for 3 s, three times; it is declared FAILED while alive. */
  @Test
  void anOwnerPausedLongerThanTheFailureTimeoutLosesNothing() throws Exception {
    run("owner pauses", 3, round -> {
      String victim = activeNonLeader();
      signal(victim, "STOP");
      pause(Duration.ofSeconds(3));
      signal(victim, "CONT");
    });
  }

  /** Case 2: the Raft leader stopped for 4 s, twice: a new leader must not fail the others. */
  @Test
  void aPausedLeaderLosesNothingAndTheNewLeaderFailsNobodyElse() throws Exception {
    run("leader pauses", 2, round -> {
      String leader = FerryCli.status(cluster).get("leader").getAsString();
      signal(leader, "STOP");
      pause(Duration.ofSeconds(4));
      signal(leader, "CONT");
      // the cap: never more than copies - 1 = 1 member failed by the detector at once
      assertThat(FerryCli.memberStates(cluster).values().stream()
          .filter("FAILED"::equals).count()).as("members FAILED after the leader's pause")
          .isLessThanOrEqualTo(1);
    });
  }

  /** Case 3: kill -9 of a node that is not the leader, started again 3 s later, three times. */
  @Test
  void repeatedCrashAndRestartNeitherLosesNorWedges() throws Exception {
    run("crash and restart", 3, round -> {
      String victim = activeNonLeader();
      FerryCli.kill9(dir, victim);
      pause(Duration.ofSeconds(3));
      FerryCli.run("cluster", "start", "--dir", dir.toString(), "--node", victim).assertOk();
    });
  }

  private interface Fault {
    void inject(int round) throws Exception;
  }

  private void run(String what, int rounds, Fault fault) throws Exception {
    awaitAllActive();
    Path ledger = dir.resolve(what.replace(' ', '-') + ".csv");
    try (BackgroundLoad load = BackgroundLoad.start(cluster, String.join(",", volumes()), ledger)) {
      load.awaitStarted();
      for (int round = 0; round < rounds; round++) {
        load.assertRunning("before " + what + " round " + (round + 1));
        fault.inject(round);
        load.awaitAcknowledgedAgain(Duration.ofSeconds(30));
        awaitAllActive();
      }
      FerryCli.Result result = load.stop();
      result.assertOk();
      long gap = load.longestAckGapMillis();
      System.out.printf("nemesis %s: %d rounds, longest time without an ack %d ms%n", what,
          rounds, gap);
      long lastEpoch = FerryCli.lastEpoch(ledger);
      FerryCli.awaitApplied(cluster, lastEpoch);
      FerryCli.verifyConsistent(secondary, ledger);
      assertThat(LedgerChecker.problems(ledger, REGION)).as("ledger of %s", what).isEmpty();
      assertThat(gap).as("longest time without an ack (ms) during %s", what)
          .isLessThan(MAX_ACK_GAP.toMillis());
    }
  }

  /** Every node of the cluster is an ACTIVE member (rejoined after a failure, if it failed). */
  private void awaitAllActive() {
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500)).ignoreExceptions()
        .until(() -> {
          Map<String, String> states = FerryCli.memberStates(cluster);
          return states.size() == nodes() && states.values().stream().allMatch("ACTIVE"::equals);
        });
  }

  private String activeNonLeader() throws Exception {
    String leader = FerryCli.status(cluster).get("leader").getAsString();
    List<String> candidates = FerryCli.memberStates(cluster).entrySet().stream()
        .filter(e -> e.getValue().equals("ACTIVE") && !e.getKey().equals(leader))
        .map(Map.Entry::getKey).toList();
    assertThat(candidates).isNotEmpty();
    return candidates.get(0);
  }

  /** kill -SIGNAL of a node of the cluster. */
  private void signal(String member, String signal) throws Exception {
    long pid = FerryCli.nodes(dir).get(member).get("pid").getAsLong();
    Process p = new ProcessBuilder("kill", "-" + signal, String.valueOf(pid)).inheritIO().start();
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("kill -%s %s", signal, pid).isZero();
  }

  /** The length of a fault (how long a process stays stopped or dead): not a wait for a condition. */
  private static void pause(Duration d) throws InterruptedException {
    Thread.sleep(d.toMillis());
  }
}
