package dev.ferry.node.raft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import dev.ferry.control.ControlLimits;
import dev.ferry.node.FerryNode;
import dev.ferry.node.InProcessCluster;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.SetCtsPeriod;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Raft entry as large as a worst-case CloseEpoch with watermarks only (35.8 MB for a full
 * cluster, ControlMessageSizeTest) is replicated to every member. With Ratis's defaults an entry
 * over 4 MiB is refused by the leader's log (and the leader steps down, again and again).
 */
class LargeRaftEntryTest {
  @TempDir Path dir;

  @Test
  void anEntryOfTheWorstCaseCloseEpochSizeIsReplicatedToEveryMember() throws Exception {
    int payload = 36_000_000;
    assertThat(payload).isLessThan(ControlLimits.MAX_RAFT_ENTRY_BYTES);
    // a valid command made as large as that: unknown fields travel through the log untouched
    Command big = Command.newBuilder()
        .setSetCtsPeriod(SetCtsPeriod.newBuilder().setPeriodMillis(777))
        .setUnknownFields(UnknownFieldSet.newBuilder().addField(999,
            UnknownFieldSet.Field.newBuilder()
                .addLengthDelimited(ByteString.copyFrom(new byte[payload])).build()).build())
        .build();
    assertThat(big.getSerializedSize()).isGreaterThan(payload);
    try (InProcessCluster cluster = new InProcessCluster(dir, 3)) {
      FerryNode any = cluster.nodes.get(0);
      any.raft().submit(big).get(60, TimeUnit.SECONDS);
      await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
        for (FerryNode n : cluster.nodes) {
          assertThat(n.raft().state().ctsPeriodMillis()).isEqualTo(777);
        }
      });
    }
  }
}
