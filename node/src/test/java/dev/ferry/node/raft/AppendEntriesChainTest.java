package dev.ferry.node.raft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.node.config.NodeConfig;
import java.nio.file.Path;
import java.util.Map;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node's Raft peer does not chain its follower appends onto one future, which a single
 * failed append poisons for good (the Raft log wedge of the soaks;
 * {@link RaftNode#appendEachRequestOnItsOwnThread}).
 */
class AppendEntriesChainTest {
  @Test
  void aNodesFollowerAppendsAreNotChained(@TempDir Path dir) {
    assertThat(RaftServerConfigKeys.Log.appendEntriesComposeEnabled(new RaftProperties()))
        .as("what Ratis does unless told otherwise").isTrue();
    RaftNode node = new RaftNode(NodeConfig.fromMap(Map.of(), dir));
    assertThat(RaftServerConfigKeys.Log.appendEntriesComposeEnabled(node.properties())).isFalse();
  }
}
