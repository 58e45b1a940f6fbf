package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code ferry cluster up} as an operator sees it when the cluster cannot come up. */
class ClusterUpIT {
  private static final int BASE_PORT = 22600;

  /**
   * Issue 16: every node given one metrics port, so the second one exits at start. The command
   * fails and says why; before, it left the first node and the secondary running, holding their
   * ports and loading the machine (an IT's cluster that did not come up ran into the next ITs).
   */
  @Test
  void aClusterThatDoesNotComeUpIsStoppedNotLeftHalfRunning() throws Exception {
    Path dir = FerryCli.workDir("cluster-up-fails");
    int metricsPort;
    try (ServerSocket s = new ServerSocket(0)) {
      metricsPort = s.getLocalPort();
    }
    FerryCli.Result r = FerryCli.runHere("cluster", "up", "--nodes", "2", "--secondary",
        "--dir", dir.toString(), "--base-port", String.valueOf(BASE_PORT),
        "--set", "metrics.listen=127.0.0.1:" + metricsPort);
    assertThat(r.exitCode()).as("stderr: %s", r.stderr()).isEqualTo(1);
    assertThat(r.stderr()).contains("exited").contains("stopped the processes this command started");
    String where = dir.toAbsolutePath().toString();
    assertThat(ProcessHandle.allProcesses()
            .filter(p -> p.info().commandLine().map(c -> c.contains(where)).orElse(false)))
        .as("processes of the cluster still running").isEmpty();
  }
}
