package dev.ferry.node.raft;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.ferry.node.InProcessCluster;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.SetCtsPeriod;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A command submitted while the group has no leader fails once the client's retries run out.
 * The Ratis client keeps that failure and refuses every later request (AlreadyClosedException),
 * so the node never proposed again: not its stagings, and as leader not its CloseEpoch. Once a
 * leader is back, the next command must go through.
 */
class ClientRecoveryTest {
  @TempDir Path dir;

  private static Command ctsPeriod(long millis) {
    return Command.newBuilder().setSetCtsPeriod(SetCtsPeriod.newBuilder().setPeriodMillis(millis))
        .build();
  }

  @Test
  void aCommandGoesThroughOnceALeaderIsBackAfterOneRanOutOfRetries() throws Exception {
    try (InProcessCluster cluster = new InProcessCluster(dir, 3)) {
      RaftNode raft = cluster.nodes.get(0).raft();
      raft.submit(ctsPeriod(400)).get(20, TimeUnit.SECONDS);
      cluster.stop(1);
      cluster.stop(2);
      // no quorum: the request fails after the client's bounded retries
      assertThatThrownBy(() -> raft.submit(ctsPeriod(500)).get(120, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class);
      cluster.restart(1);
      cluster.restart(2);
      await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
        raft.submit(ctsPeriod(600)).get(30, TimeUnit.SECONDS);
        return true;
      });
      // committed through the leader; applied here a moment later
      await().atMost(Duration.ofSeconds(10)).until(() -> raft.state().ctsPeriodMillis() == 600);
    }
  }

  /**
   * Closing a node while a command waits for a leader: the client's close fails the pending
   * request on the closing thread, whose callback must not wait for the node's lock that close
   * holds. Deadlocked before (seen as CtsPeriodLeaderChangeTest hanging in CI).
   */
  @Test
  void aNodeClosesWhileACommandStillWaitsForALeader() throws Exception {
    InProcessCluster cluster = new InProcessCluster(dir, 3);
    int leader = Integer.parseInt(cluster.leader().substring(1)) - 1;
    RaftNode raft = cluster.nodes.get(leader).raft();
    raft.submit(ctsPeriod(400)).get(20, TimeUnit.SECONDS);
    for (int i = 0; i < 3; i++) {
      if (i != leader) {
        cluster.stop(i);
      }
    }
    // the leader takes it and waits for a quorum: the reply stays pending on the client's stream
    java.util.concurrent.CompletableFuture<?> pending = raft.submit(ctsPeriod(500));
    java.util.concurrent.CompletableFuture<Void> closed =
        java.util.concurrent.CompletableFuture.runAsync(() -> cluster.stop(leader));
    try {
      closed.get(30, TimeUnit.SECONDS);
      await().atMost(Duration.ofSeconds(10)).until(pending::isDone);
      assertThatThrownBy(pending::get).isInstanceOf(ExecutionException.class);
    } finally {
      if (closed.isDone()) { // a deadlocked node cannot be closed again
        cluster.close();
      }
    }
  }
}
