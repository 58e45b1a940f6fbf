package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Claims 10, 11 with real processes: while a primary does dependent writes, a fourth node joins
 * (cluster add) and takes over portions at an epoch end, then one of the first three is
 * drained and gives all of its portions away at an epoch end. After draining the cluster,
 * ferry verify finds every acknowledged write at the secondary and nothing later, and the
 * drained member is removed (REMOVED, no longer a Raft voter).
 */
class MembershipIT extends WithReplicatedCluster {
  private static final int BASE_PORT = 21000;

  @Override
  protected String name() {
    return "membership";
  }

  @Override
  protected int basePort() {
    return BASE_PORT;
  }

  @Override
  protected String[] volumes() {
    return new String[] {"j1", "j2"};
  }

  /** How many portions (owned + mirrored) {@code member} holds. */
  private long placements(String member) throws Exception {
    FerryCli.Result r = FerryCli.run("admin", "--cluster", cluster, "assignment", "--json").assertOk();
    long n = 0;
    for (JsonElement e : JsonParser.parseString(r.stdout()).getAsJsonArray()) {
      var o = e.getAsJsonObject();
      n += (member.equals(o.get("owner").getAsString()) ? 1 : 0)
          + (o.has("mirror") && member.equals(o.get("mirror").getAsString()) ? 1 : 0);
    }
    return n;
  }

  @Test
  void aNodeJoinsAndAnotherIsDrainedUnderLoadAndNothingAcknowledgedIsLost() throws Exception {
    Path ledger = dir.resolve("ledger.csv");
    try (BackgroundLoad load = BackgroundLoad.start(cluster, "j1,j2", ledger)) {
      load.awaitStarted();
      FerryCli.run("cluster", "add", "--dir", dir.toString()).assertOk();
      await().atMost(Duration.ofSeconds(30)).until(() -> placements("n4") > 0);
      load.awaitAcknowledgedAgain(Duration.ofSeconds(30)); // the join happened under load

      FerryCli.run("admin", "--cluster", cluster, "member", "drain", "n2").assertOk();
      await().atMost(Duration.ofSeconds(30)).until(() -> placements("n2") == 0);
      // the portions moved while the primary was writing
      load.awaitAcknowledgedAgain(Duration.ofSeconds(30));
      load.stop().assertOk();
      long lastEpoch = FerryCli.lastEpoch(ledger);
      FerryCli.awaitApplied(cluster, lastEpoch);
      FerryCli.verifyConsistent(secondary, ledger);
      // drained, and every epoch it held updates of applied: the coordinator removes it, from
      // the members and from the Raft configuration
      await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
        var st = FerryCli.statusInProcess(cluster);
        boolean removed = st.getMembersList().stream().anyMatch(m -> m.getId().equals("n2")
            && m.getState() == dev.ferry.proto.control.MemberState.REMOVED);
        boolean voter = st.getRaftPeersList().stream().anyMatch(p -> p.getId().equals("n2"));
        return removed && !voter;
      });
    }
  }
}
