package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue 5, item 6 with real processes: five nodes with three copies of every update, a primary
 * doing dependent writes, and kill -9 of two nodes at the same moment: the owner of a portion
 * and one of its mirrors (neither the Raft leader). The third copy holder hands that portion's
 * updates over, writes go on, every portion gets two mirrors again, and ferry verify finds every
 * acknowledged write at the secondary and nothing later.
 */
class ThreeCopiesIT extends WithFiveNodesThreeCopies {
  @Override
  protected String name() {
    return "three-copies";
  }

  @Override
  protected int basePort() {
    return 21400;
  }

  @Override
  protected String[] volumes() {
    return new String[] {"c1", "c2"};
  }

  /** The owner and first mirror of a portion, neither of them {@code leader}. */
  static List<String> ownerAndMirror(String cluster, String leader) throws Exception {
    for (JsonObject p : FerryCli.placements(cluster)) {
      String owner = p.get("owner").getAsString();
      String mirror = p.get("mirror").getAsString();
      assertThat(p.getAsJsonArray("mirrors")).as("mirrors of %s", p).hasSize(2);
      if (!owner.equals(leader) && !mirror.equals(leader)) {
        return List.of(owner, mirror);
      }
    }
    throw new AssertionError("no portion placed on two followers");
  }

  @Test
  void twoSimultaneousFailuresLoseNoAcknowledgedWrite() throws Exception {
    assertThat(FerryCli.status(cluster).get("copies").getAsInt()).isEqualTo(3);
    Path ledger = dir.resolve("ledger.csv");
    try (BackgroundLoad load = BackgroundLoad.start(cluster, "c1,c2", ledger)) {
      load.awaitStarted();
      List<String> victims = ownerAndMirror(cluster, FerryCli.status(cluster).get("leader").getAsString());
      load.assertRunning("before the kills");
      for (String v : victims) {
        FerryCli.kill9(dir, v);
      }
      await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> {
        Map<String, String> states = FerryCli.memberStates(cluster);
        return victims.stream().allMatch(v -> "FAILED".equals(states.get(v)));
      });
      load.awaitAcknowledgedAgain(Duration.ofSeconds(15));
      for (JsonObject p : FerryCli.placements(cluster)) {
        assertThat(p.getAsJsonArray("mirrors")).as("mirrors of %s after the failures", p).hasSize(2);
      }
      load.stop().assertOk();
      long lastEpoch = FerryCli.lastEpoch(ledger);
      FerryCli.awaitApplied(cluster, lastEpoch);
      FerryCli.verifyConsistent(secondary, ledger);
    }
  }
}
