package dev.ferry.node.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeConfigTest {
  @TempDir Path tmp;

  @Test
  void defaultsRunASingleLocalNode() {
    NodeConfig c = NodeConfig.fromMap(Map.of(), tmp);
    assertThat(c.id()).isEqualTo("n1");
    assertThat(c.dir()).isEqualTo(tmp.resolve("data/n1"));
    assertThat(c.listen().toString()).isEqualTo("127.0.0.1:7201");
    assertThat(c.raftListen().toString()).isEqualTo("127.0.0.1:7301");
    assertThat(c.peers()).isEmpty();
    assertThat(c.coordinatorTick()).isEqualTo(Duration.ofMillis(200));
    assertThat(c.defaultRegionSize()).isEqualTo(64L << 20);
  }

  @Test
  void fileValuesAreOverriddenByTheCommandLineAndRelativeDirsFollowTheFile() throws Exception {
    Path file = tmp.resolve("conf/ferry.properties");
    Files.createDirectories(file.getParent());
    Files.writeString(file, "node.id = n2\nnode.dir = store\ncluster.peers = n1=127.0.0.1:7301, n2=127.0.0.1:7302\n"
        + "coordinator.tick = 1s\n");
    NodeConfig c = NodeConfig.load(file, Map.of("coordinator.tick", "50ms"));
    assertThat(c.id()).isEqualTo("n2");
    assertThat(c.dir()).isEqualTo(tmp.resolve("conf/store"));
    assertThat(c.peers()).containsOnlyKeys("n1", "n2");
    assertThat(c.peers().get("n2").getPort()).isEqualTo(7302);
    assertThat(c.coordinatorTick()).isEqualTo(Duration.ofMillis(50));
  }

  @Test
  void badValuesNameTheirKey() {
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("node.lisen", "x"), tmp))
        .hasMessageContaining("unknown configuration key 'node.lisen'");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("coordinator.tick", "fast"), tmp))
        .hasMessageContaining("coordinator.tick").hasMessageContaining("not a duration");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("node.listen", "nohost"), tmp))
        .hasMessageContaining("node.listen");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("cluster.peers", "n1"), tmp))
        .hasMessageContaining("cluster.peers entry 'n1'");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("volume.default.region.size", "big"), tmp))
        .hasMessageContaining("volume.default.region.size");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("node.id", "bad id"), tmp))
        .hasMessageContaining("node.id");
    assertThatThrownBy(() -> NodeConfig.fromMap(
        Map.of("raft.election.timeout.min", "2s", "raft.election.timeout.max", "1s"), tmp))
        .hasMessageContaining("raft.election.timeout.max");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("raft.snapshot.every", "0"), tmp))
        .hasMessageContaining("raft.snapshot.every");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("volume.min.region.size", "1KiB"), tmp))
        .hasMessageContaining("volume.min.region.size must be at least 4KiB");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("volume.max.portions", "0"), tmp))
        .hasMessageContaining("volume.max.portions must be between 1 and 262144");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("cluster.max.portions", "300000"), tmp))
        .hasMessageContaining("cluster.max.portions must be between 1 and 262144");
    assertThatThrownBy(() -> NodeConfig.fromMap(Map.of("cluster.max.portions", "many"), tmp))
        .hasMessageContaining("cluster.max.portions: 'many' is not a whole number");
  }

  @Test
  void volumeLimitsDefaultToTheStateMachinesAndCanBeSet() {
    assertThat(NodeConfig.fromMap(Map.of(), tmp).volumeLimits())
        .isEqualTo(new NodeConfig.VolumeLimits(1 << 20, 65_536, 262_144))
        .isEqualTo(NodeConfig.VolumeLimits.DEFAULTS);
    assertThat(NodeConfig.fromMap(Map.of("volume.min.region.size", "4MiB",
        "volume.max.portions", "1000", "cluster.max.portions", "5000"), tmp).volumeLimits())
        .isEqualTo(new NodeConfig.VolumeLimits(4 << 20, 1000, 5000));
  }

  @Test
  void everyKeyIsDocumentedWithItsDefault() throws Exception {
    String doc = Files.readString(Path.of("../docs/CONFIGURATION.md"));
    NodeConfig.KEYS.forEach((key, spec) -> {
      String shown = spec[0].isEmpty() ? "*(empty)*" : "`" + spec[0] + "`";
      assertThat(doc).as("docs/CONFIGURATION.md row of %s", key)
          .contains("| `" + key + "` | " + shown + " |");
    });
  }
}
