package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * End to end with real processes: three nodes and a secondary site (cluster up --secondary),
 * dependent writes from ferry load with a ledger, and ferry verify of the secondary against
 * every acknowledged write once the cluster has drained.
 */
class ReplicationIT extends WithReplicatedCluster {
  private static final int BASE_PORT = 20400;

  @Override
  protected String name() {
    return "replication";
  }

  @Override
  protected int basePort() {
    return BASE_PORT;
  }

  @Override
  protected String[] volumes() {
    return new String[] {"r1", "r2"};
  }

  @Test
  void theManifestNamesTheSecondary() throws Exception {
    JsonObject manifest = JsonParser.parseString(Files.readString(dir.resolve("cluster.json")))
        .getAsJsonObject();
    assertThat(manifest.getAsJsonObject("secondary").get("address").getAsString()).isEqualTo(secondary);
    assertThat(manifest.getAsJsonObject("secondary").get("pid").getAsLong()).isPositive();
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
