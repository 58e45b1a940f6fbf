package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonParser;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * kill -9 of the Raft leader, twice, while dependent writes run and epochs close four times a
 * second (so the kills land inside barriers: Freeze, CloseEpoch, CommitEpoch, the apply). The
 * killed node is started again (failure handling comes later); a new leader resumes the
 * barrier from the replicated state, epochs keep closing, and after draining ferry verify
 * finds every acknowledged write and nothing later: no epoch applied twice or skipped.
 */
class LeaderKillIT extends WithReplicatedCluster {
  private static final int BASE_PORT = 17800;

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

  /** A status field as a node that was not just restarted sees it (a restarting one may lag). */
  private String survivors = null;

  private long status(String field) throws Exception {
    FerryCli.Result s = FerryCli.run("admin", "--cluster", survivors == null ? cluster : survivors,
        "status", "--json").assertOk();
    return JsonParser.parseString(s.stdout()).getAsJsonObject().get(field).getAsLong();
  }

  private String leader() throws Exception {
    FerryCli.Result s = FerryCli.run("admin", "--cluster", cluster, "status", "--json").assertOk();
    return JsonParser.parseString(s.stdout()).getAsJsonObject().get("leader").getAsString();
  }

  @Test
  void epochsKeepClosingAndApplyingOnceAcrossLeaderKills() throws Exception {
    Path ledger = dir.resolve("ledger.csv");
    CompletableFuture<FerryCli.Result> load = CompletableFuture.supplyAsync(() -> {
      try {
        return FerryCli.run("load", "--cluster", cluster, "--volumes", "k1,k2", "--size", "4KiB",
            "--seconds", "35", "--inflight", "8", "--dependent", "--ledger", ledger.toString(), "--json");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    for (int round = 0; round < 2; round++) {
      long open = status("openEpoch");
      await().atMost(Duration.ofSeconds(20)).until(() -> status("openEpoch") > open + 8);
      String leader = leader();
      assertThat(leader).isNotEmpty();
      long pid = FerryCli.nodes(dir).get(leader).get("pid").getAsLong();
      ProcessHandle.of(pid).orElseThrow().destroyForcibly(); // kill -9 in the middle of barriers
      await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
          .until(() -> !leader().isEmpty() && !leader().equals(leader));
      StringBuilder alive = new StringBuilder();
      for (var n : FerryCli.nodes(dir).entrySet()) {
        if (!n.getKey().equals(leader)) {
          alive.append(alive.length() == 0 ? "" : ",").append(n.getValue().get("admin").getAsString());
        }
      }
      survivors = alive.toString();
      FerryCli.run("cluster", "start", "--dir", dir.toString(), "--node", leader).assertOk();
      long before = status("openEpoch");
      await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
          .until(() -> status("openEpoch") > before + 4 && status("appliedEpoch") > before);
    }
    survivors = null;
    FerryCli.Result l = load.get();
    assertThat(JsonParser.parseString(l.stdout()).getAsJsonObject().get("acked").getAsLong())
        .isPositive();
    long lastEpoch = FerryCli.lastEpoch(ledger);
    FerryCli.awaitApplied(cluster, lastEpoch);
    FerryCli.verifyConsistent(secondary, ledger);
  }
}
