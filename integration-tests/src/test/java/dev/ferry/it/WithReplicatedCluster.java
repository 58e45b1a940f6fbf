package dev.ferry.it;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Base of the replication ITs: a {@link ReplicatedCluster} started before the class's tests
 * (three nodes, a secondary, the given volumes) and stopped after them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(FailureDigest.class)
abstract class WithReplicatedCluster implements FailureDigest.HasClusterDir {
  protected ReplicatedCluster site;
  protected Path dir;
  protected String cluster;
  protected String secondary;

  /** A name for the cluster's directory, its base port, and its volumes. */
  protected abstract String name();

  protected abstract int basePort();

  protected abstract String[] volumes();

  /** How many nodes; three by default. */
  protected int nodes() {
    return 3;
  }

  /** Copies of every update ({@code cluster up --copies}); two by default. */
  protected int copies() {
    return 2;
  }

  /**
   * The subnet 198.18.K.0/24 of network namespaces to run the processes in (cluster up
   * --netns K), or null (the default): loopback.
   */
  protected Integer netns() {
    return null;
  }

  /** Runs before the cluster starts in the new, empty {@code dir}; nothing by default. */
  protected void prepare(Path dir) throws Exception {
  }

  /** Runs after the cluster is down, to undo {@link #prepare}; nothing by default. */
  protected void cleanUp(Path dir) throws Exception {
  }

  /** Extra environment of the cluster's processes (FERRY_NODE_JAVA_OPTS); none by default. */
  protected java.util.Map<String, String> environment() throws Exception {
    return java.util.Map.of();
  }

  @BeforeAll
  void up() throws Exception {
    Path where = FerryCli.workDir(name());
    dir = where; // cleanUp runs even if the cluster does not come up
    prepare(where);
    site = ReplicatedCluster.up(where, basePort(), nodes(), copies(), netns(), environment(),
        volumes());
    dir = site.dir;
    cluster = site.cluster;
    secondary = site.secondary;
  }

  @Override
  public Path clusterDir() {
    return dir;
  }

  @AfterAll
  void down() throws Exception {
    if (site != null) {
      site.close();
    } else if (dir != null) {
      ReplicatedCluster.down(dir); // it did not come up: stop whatever of it started
    }
    if (dir != null) {
      cleanUp(dir);
    }
  }
}
