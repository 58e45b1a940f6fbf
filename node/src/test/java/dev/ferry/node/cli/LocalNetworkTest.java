package dev.ferry.node.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real network namespaces (root and iproute2; skipped elsewhere, saying why) on a subnet no
 * IT uses.
 */
class LocalNetworkTest {
  private static final int SUBNET = 231;
  private final LocalNetwork network = new LocalNetwork(SUBNET);
  private final List<String> hosts = List.of("n1", "n2", "sec");

  @BeforeEach
  void requireNamespaces() throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name"))
        && (Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip"))),
        "network namespaces need root and iproute2's ip");
    network.remove(hosts);
  }

  @AfterEach
  void removeNamespaces() throws Exception {
    network.remove(hosts);
  }

  /**
   * A cluster killed while n1 was cut off left its namespace with the blackhole routes: a new
   * cluster on the subnet must not inherit the cut (n1 would never reach the others).
   */
  @Test
  void namespacesLeftByAClusterNotBroughtDownAreMadeAnewWithoutTheirCuts() throws Exception {
    network.ensureHost("n1", 1);
    network.ensureHost("n2", 2);
    network.partition("n1", List.of("n2"));
    assertThat(run("ip", "-n", "ferry231-n1", "route", "show", "type", "blackhole"))
        .contains("198.18.231.2");

    network.clearStale(hosts);
    assertThat(Path.of("/run/netns/ferry231-n1")).doesNotExist();
    network.ensureHost("n1", 1);
    assertThat(run("ip", "-n", "ferry231-n1", "route", "show", "type", "blackhole")).isBlank();
  }

  @Test
  void aSubnetWhereProcessesStillRunIsRefused() throws Exception {
    network.ensureHost("n1", 1);
    Process inside = new ProcessBuilder("ip", "netns", "exec", "ferry231-n1", "sleep", "60").start();
    try {
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
          .until(() -> !run("ip", "netns", "pids", "ferry231-n1").isBlank());
      assertThatThrownBy(() -> network.clearStale(hosts))
          .hasMessageContaining("ferry231-n1 is in use")
          .hasMessageContaining("choose another --netns");
      assertThat(Path.of("/run/netns/ferry231-n1")).exists();
    } finally {
      inside.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
  }
}
