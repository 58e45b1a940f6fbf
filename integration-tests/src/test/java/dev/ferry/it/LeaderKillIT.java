package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Raft leader dies (an injected halt, like kill -9 at that point) exactly inside the epoch
 * barrier, while dependent writes run and epochs close four times a second: first after every
 * member answered Freeze and before Thaw (the next epoch's acks are held), then after a
 * CommitEpoch is in the Raft log and before any secondary was told to apply it. Each time a
 * new leader resumes from the replicated state and epochs keep closing and applying once the
 * halted node is started again (until failure handling exists, every member must answer Freeze). After draining, ferry verify
 * finds every acknowledged write and nothing later: no epoch applied twice or skipped.
 */
class LeaderKillIT extends WithReplicatedCluster {
  private static final int BASE_PORT = 20800;
  private static final long FREEZE_EPOCH = 60;
  private static final long COMMIT_EPOCH = 120;

  private Path markers;
  private Map<String, String> env;

  @Override
  protected String name() {
    return "leader-kill";
  }

  @Override
  protected int basePort() {
    return BASE_PORT;
  }

  @Override
  protected String[] volumes() {
    return new String[] {"k1", "k2"};
  }

  @Override
  protected Map<String, String> environment() throws Exception {
    markers = FerryCli.workDir("leader-kill-markers");
    env = Map.of("FERRY_NODE_JAVA_OPTS", "-Xmx1g -XX:+UseSerialGC -Dferry.coordinator.haltAt="
        + "freeze:" + FREEZE_EPOCH + ":" + markers.resolve("freeze") + ",commit:" + COMMIT_EPOCH
        + ":" + markers.resolve("commit"));
    return env;
  }


  /** The id of a node whose process is gone, or null. */
  private String deadNode() throws Exception {
    for (var n : FerryCli.nodes(dir).entrySet()) {
      long pid = n.getValue().get("pid").getAsLong();
      if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
        return n.getKey();
      }
    }
    return null;
  }

  @Test
  void epochsKeepClosingAndApplyingOnceWhenTheLeaderDiesInFreezeAndInCommitEpoch() throws Exception {
    Path ledger = dir.resolve("ledger.csv");
    try (BackgroundLoad load = BackgroundLoad.start(cluster, "k1,k2", ledger)) {
      for (String step : new String[] {"freeze", "commit"}) {
        Path marker = markers.resolve(step);
        // the node that writes the marker halts right after it
        await().atMost(Duration.ofSeconds(90)).until(() -> Files.exists(marker) && deadNode() != null);
        load.assertRunning("when the leader halts at " + step);
        String halted = deadNode();
        StringBuilder alive = new StringBuilder();
        for (var n : FerryCli.nodes(dir).entrySet()) {
          if (!n.getKey().equals(halted)) {
            alive.append(alive.length() == 0 ? "" : ",").append(n.getValue().get("admin").getAsString());
          }
        }
        assertThat(halted).as("the leader halted at %s", step).isNotNull();
        String survivors = alive.toString();
        long before = FerryCli.statusInProcess(survivors).getOpenEpoch();
        // every member must answer Freeze until failure handling exists: start it again at once
        FerryCli.runHere(env, "cluster", "start", "--dir", dir.toString(), "--node", halted).assertOk();
        // a new leader resumed the barrier: epochs close and apply again (60 s: the restarted
        // node, declared failed meanwhile, replays its Raft log and rejoins as a new
        // incarnation, about 15 s here with the load running; the barrier takes it in after)
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
          var s = FerryCli.statusInProcess(survivors);
          return s.getOpenEpoch() > before + 4 && s.getConsistentEpoch() >= before;
        });
      }
      load.awaitAcknowledgedAgain(Duration.ofSeconds(30));
      FerryCli.Result l = load.stop();
      assertThat(JsonParser.parseString(l.stdout()).getAsJsonObject().get("acked").getAsLong())
          .isPositive();
      long lastEpoch = FerryCli.lastEpoch(ledger);
      assertThat(lastEpoch).as("the load ran past both halts").isGreaterThan(COMMIT_EPOCH);
      FerryCli.awaitApplied(cluster, lastEpoch);
      FerryCli.verifyConsistent(secondary, ledger);
    }
  }
}
