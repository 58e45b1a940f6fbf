package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * End to end with real processes: three nodes and a secondary site (cluster up --secondary),
 * dependent writes from ferry load with a ledger, and ferry verify of the secondary against
 * every acknowledged write once the cluster has drained.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReplicationIT {
  private static final int BASE_PORT = 17600;
  private Path dir;
  private String cluster;
  private ReplicatedCluster site;
  private final String secondary = "127.0.0.1:" + (BASE_PORT + 99);

  @BeforeAll
  void up() throws Exception {
    site = ReplicatedCluster.up("replication", BASE_PORT, "r1", "r2");
    dir = site.dir;
    cluster = site.cluster;
    JsonObject manifest = JsonParser.parseString(Files.readString(dir.resolve("cluster.json")))
        .getAsJsonObject();
    assertThat(manifest.getAsJsonObject("secondary").get("address").getAsString()).isEqualTo(secondary);
    assertThat(manifest.getAsJsonObject("secondary").get("pid").getAsLong()).isPositive();
  }

  @AfterAll
  void down() throws Exception {
    if (site != null) {
      site.close();
    }
  }

  @Test
  void theSecondaryHoldsEveryAcknowledgedWriteOfItsConsistentEpoch() throws Exception {
    Path ledger = dir.resolve("ledger.csv");
    FerryCli.Result load = FerryCli.run("load", "--cluster", cluster, "--volumes", "r1,r2",
        "--size", "4KiB", "--seconds", "6", "--inflight", "8", "--dependent",
        "--ledger", ledger.toString(), "--json");
    load.assertOk();
    long acked = JsonParser.parseString(load.stdout()).getAsJsonObject().get("acked").getAsLong();
    assertThat(acked).isPositive();
    long lastEpoch = FerryCli.lastEpoch(ledger);
    // drained: every epoch with an acknowledged write is applied at the secondary
    FerryCli.awaitApplied(cluster, lastEpoch);
    JsonObject v = FerryCli.verifyConsistent(secondary, ledger);
    assertThat(v.get("ledgerLines").getAsLong()).isEqualTo(acked);

    FerryCli.Result epochs = FerryCli.run("admin", "--cluster", cluster, "epochs", "--json").assertOk();
    JsonObject e = JsonParser.parseString(epochs.stdout()).getAsJsonObject();
    assertThat(e.get("leader").getAsBoolean()).isTrue();
    assertThat(e.get("appliedEpoch").getAsLong()).isGreaterThanOrEqualTo(lastEpoch);
    assertThat(e.get("rpoMillis").getAsLong()).isNotNegative();
  }
}
