package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The secondary site dies in the middle of applying an epoch (an injected halt after its first
 * update of an epoch 20 ahead of the open one, like kill -9 at that point) while a primary
 * writes dependent updates;
 * restarted, it redoes the epoch from its staging, the cluster goes on, and after draining
 * ferry verify finds every acknowledged write of the applied epochs and nothing later.
 */
class SecondaryCrashIT extends WithReplicatedCluster {
  private long haltEpoch;

  private static final int BASE_PORT = 20600;

  @Override
  protected String name() {
    return "secondary-crash";
  }

  @Override
  protected int basePort() {
    return BASE_PORT;
  }

  @Override
  protected String[] volumes() {
    return new String[] {"c1", "c2"};
  }

  private long secondaryPid() throws Exception {
    JsonObject m = JsonParser.parseString(Files.readString(dir.resolve("cluster.json"))).getAsJsonObject();
    return m.getAsJsonObject("secondary").get("pid").getAsLong();
  }

  @Test
  void aSecondaryKilledMidApplyRedoesTheEpochAndEndsConsistent() throws Exception {
    Path ledger = dir.resolve("ledger.csv");
    // restart the secondary with the halt hook armed for an epoch a few seconds ahead
    ProcessHandle running = ProcessHandle.of(secondaryPid()).orElseThrow();
    running.destroy();
    running.onExit().get(15, java.util.concurrent.TimeUnit.SECONDS);
    haltEpoch = FerryCli.statusInProcess(cluster).getOpenEpoch() + 20;
    FerryCli.runHere(Map.of("FERRY_NODE_JAVA_OPTS",
            "-Xmx1g -XX:+UseSerialGC -Dferry.secondary.haltAfterUpdates=" + haltEpoch + ":1"),
        "cluster", "start", "--dir", dir.toString(), "--node", "secondary").assertOk();
    long pid = secondaryPid();
    try (BackgroundLoad load = BackgroundLoad.start(cluster, "c1,c2", ledger)) {
      // the halt hook stops the secondary in the middle of applying that epoch
      await().atMost(Duration.ofSeconds(60)).until(() -> ProcessHandle.of(pid).isEmpty()
          || !ProcessHandle.of(pid).get().isAlive());
      assertThat(Files.readString(Path.of(dir.toString(), "secondary", "secondary.log")))
          .doesNotContain("corrupt");
      FerryCli.runHere("cluster", "start", "--dir", dir.toString(), "--node", "secondary").assertOk();
      // it really stopped inside that apply: the restart redoes it from the staging
      Path log = Path.of(dir.toString(), "secondary", "secondary.log");
      Pattern redo = Pattern.compile("redoing the apply of epoch (\\d+)");
      await().atMost(Duration.ofSeconds(30)).until(() -> redo.matcher(Files.readString(log)).find());
      Matcher m = redo.matcher(Files.readString(log));
      assertThat(m.find()).isTrue();
      long crashedEpoch = Long.parseLong(m.group(1));
      // the hook halts in the first epoch from haltEpoch on that has an update
      assertThat(crashedEpoch).isGreaterThanOrEqualTo(haltEpoch);

      load.awaitAcknowledgedAgain(Duration.ofSeconds(30));
      load.stop().assertOk();
      long lastEpoch = FerryCli.lastEpoch(ledger);
      assertThat(lastEpoch).as("the load ran past the epoch of the crash").isGreaterThan(crashedEpoch);
      FerryCli.awaitApplied(cluster, lastEpoch);
      FerryCli.verifyConsistent(secondary, ledger);
    }
  }
}
