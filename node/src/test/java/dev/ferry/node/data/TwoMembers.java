package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.control.AssignmentPolicy;
import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Outcome;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CreateVolume;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import java.util.List;

/**
 * A cluster state of two ACTIVE members n1, n2 (or the given ones; all at an unreachable
 * address) and volume "v".
 */
final class TwoMembers {
  private TwoMembers() {}

  static ClusterState state(long volumeSize, long regionSize) {
    return state(List.of("n1", "n2"), volumeSize, regionSize);
  }

  /** The same with the given ACTIVE members. */
  static ClusterState state(List<String> ids, long volumeSize, long regionSize) {
    ClusterState s = ClusterState.EMPTY;
    for (String id : ids) {
      s = apply(s, Command.newBuilder().setRegisterMember(RegisterMember.newBuilder().setId(id)
          .setAddress("127.0.0.1:1").setIncarnation(1)).build());
    }
    s = apply(s, Command.newBuilder().setReassignPortions(ReassignPortions.newBuilder()
        .setBaseVersion(s.assignmentVersion()).addAllActivate(ids)
        .addAllChanges(AssignmentPolicy.plan(s, ids))).build());
    return apply(s, Command.newBuilder().setCreateVolume(CreateVolume.newBuilder().setName("v")
        .setSizeBytes(volumeSize).setRegionSizeBytes(regionSize)).build());
  }

  static int regionOwnedBy(ClusterState s, String member) {
    var a = s.assignment().get("v");
    for (int r = 0; r < a.regions(); r++) {
      if (a.owner(r).equals(member)) {
        return r;
      }
    }
    throw new IllegalStateException("no region owned by " + member);
  }

  static ClusterState apply(ClusterState s, Command c) {
    Outcome o = ClusterTransitions.apply(s, c);
    assertThat(o.accepted()).as("setup command %s: %s", c, o).isTrue();
    return o.state();
  }
}
