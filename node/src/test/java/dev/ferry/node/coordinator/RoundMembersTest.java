package dev.ferry.node.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Member;
import dev.ferry.control.Outcome;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.MarkFailed;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The barrier closes an epoch only on the seals of members that are still members with the
 * incarnation it froze: one declared failed during the round may have sealed after it dropped
 * what it numbered.
 */
class RoundMembersTest {
  private static ClusterState apply(ClusterState s, Command c) {
    Outcome o = ClusterTransitions.apply(s, c);
    assertThat(o.accepted()).as("%s: %s", c, o).isTrue();
    return o.state();
  }

  @Test
  void aMemberDeclaredFailedDuringTheRoundIsNamed() {
    ClusterState s = ClusterState.EMPTY;
    for (String id : List.of("a", "b", "c")) {
      s = apply(s, Command.newBuilder().setRegisterMember(RegisterMember.newBuilder().setId(id)
          .setAddress("127.0.0.1:1").setIncarnation(1)).build());
    }
    s = apply(s, Command.newBuilder().setReassignPortions(ReassignPortions.newBuilder()
        .setBaseVersion(s.assignmentVersion()).addAllActivate(List.of("a", "b", "c"))).build());
    List<Member> round = List.copyOf(s.members().values());
    assertThat(BarrierPlan.failedDuringTheRound(s, round)).isNull();

    ClusterState failed = apply(s, Command.newBuilder().setMarkFailed(MarkFailed.newBuilder()
        .setId("b").setIncarnation(1)).build());
    assertThat(BarrierPlan.failedDuringTheRound(failed, round)).isEqualTo("b#1");

    ClusterState back = apply(dev.ferry.node.SettledFailures.settle(failed),
        Command.newBuilder().setRegisterMember(RegisterMember
        .newBuilder().setId("b").setAddress("127.0.0.1:1").setIncarnation(2)).build());
    assertThat(BarrierPlan.failedDuringTheRound(back, round)).as("another incarnation now")
        .isEqualTo("b#1");
  }
}
