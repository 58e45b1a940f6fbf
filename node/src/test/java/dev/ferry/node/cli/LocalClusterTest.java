package dev.ferry.node.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.node.cli.FerryCliTest.Run;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local cluster's manifest and its network choices, without starting any process. */
class LocalClusterTest {
  @TempDir Path dir;

  @Test
  void aClusterInNetworkNamespacesKeepsItsSubnetAndAddressesInTheManifest() throws Exception {
    LocalCluster c = new LocalCluster(dir, 7200, List.of(), Map.of());
    c.network = new LocalNetwork(17);
    c.nodes.add(c.newNode(2));
    c.secondary = c.newSecondary();
    c.write();

    LocalCluster back = LocalCluster.require(dir);
    assertThat(back.network).isNotNull();
    assertThat(back.network.subnet).isEqualTo(17);
    assertThat(back.nodes.get(0).admin()).isEqualTo("198.18.17.2:7202");
    assertThat(back.nodes.get(0).raft()).isEqualTo("198.18.17.2:7302");
    assertThat(back.secondary.admin()).isEqualTo("198.18.17.99:7299");
    assertThat(back.network.execIn("n2")).containsExactly("ip", "netns", "exec", "ferry17-n2");
  }

  @Test
  void aLoopbackClusterHasNoNetworkAndRefusesAPartitionSayingHowToGetOne() throws Exception {
    LocalCluster c = new LocalCluster(dir, 7200, List.of(), Map.of());
    c.nodes.add(c.newNode(1));
    c.write();
    assertThat(LocalCluster.require(dir).network).isNull();
    assertThat(c.nodes.get(0).admin()).isEqualTo("127.0.0.1:7201");

    Run r = FerryCliTest.run("cluster", "partition", "--dir", dir.toString(), "--node", "n1");
    assertThat(r.exit()).isNotZero();
    assertThat(r.err()).contains("runs on loopback").contains("cluster up --netns K");
  }

  @Test
  void aSubnetOutsideOneOctetIsRefused() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new LocalNetwork(256))
        .hasMessageContaining("--netns must be between 0 and 255, got 256");
  }
}
