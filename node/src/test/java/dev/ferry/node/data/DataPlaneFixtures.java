package dev.ferry.node.data;

import com.google.protobuf.ByteString;
import dev.ferry.control.AssignmentPolicy;
import dev.ferry.control.ClusterState;
import dev.ferry.control.VolumeAssignment;
import dev.ferry.node.journal.FaultyDisk;
import dev.ferry.node.journal.JournalOptions;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CreateVolume;
import dev.ferry.proto.control.MarkFailed;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import dev.ferry.proto.peer.Update;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Replicated states and peer updates for tests of one {@link DataPlane} driven by hand: members
 * at given addresses, volume "v" of 12 regions of {@link #REGION} bytes.
 */
final class DataPlaneFixtures {
  static final long REGION = 1 << 20;

  static Update.Builder update(int region, byte[] bytes, long epoch, long n) {
    return Update.newBuilder().setPrimaryId("p").setClientSeq(1).setVolume("v").setRegion(region)
        .setOffset(region * REGION).setData(ByteString.copyFrom(bytes))
        .setCrc32C(IngestProbe.crc(bytes)).setEpoch(epoch).setN(n);
  }

  static JournalOptions options(FaultyDisk disk) {
    return new JournalOptions(1 << 20, 64 << 20, true, disk,
        e -> { throw new AssertionError("fatal journal error in a test", e); });
  }

  /** ACTIVE members at the given addresses (in this order) and volume "v" of 12 regions. */
  static ClusterState cluster(Map<String, String> addresses) {
    Map<String, String> ordered = new LinkedHashMap<>(new java.util.TreeMap<>(addresses));
    ClusterState s = ClusterState.EMPTY;
    for (var e : ordered.entrySet()) {
      s = apply(s, Command.newBuilder().setRegisterMember(RegisterMember.newBuilder()
          .setId(e.getKey()).setAddress(e.getValue()).setIncarnation(1)).build());
    }
    List<String> ids = List.copyOf(ordered.keySet());
    s = apply(s, Command.newBuilder().setReassignPortions(ReassignPortions.newBuilder()
        .setBaseVersion(s.assignmentVersion()).addAllActivate(ids)
        .addAllChanges(AssignmentPolicy.plan(s, ids))).build());
    return apply(s, Command.newBuilder().setCreateVolume(CreateVolume.newBuilder().setName("v")
        .setSizeBytes(12 * REGION).setRegionSizeBytes(REGION)).build());
  }

  static int regionOwnedBy(ClusterState s, String member) {
    VolumeAssignment a = s.assignment().get("v");
    for (int r = 0; r < a.regions(); r++) {
      if (a.owner(r).equals(member)) {
        return r;
      }
    }
    throw new IllegalStateException("no region owned by " + member);
  }

  static Command markFailed(String id) {
    return Command.newBuilder().setMarkFailed(MarkFailed.newBuilder().setId(id)).build();
  }

  static ClusterState apply(ClusterState s, Command c) {
    return TwoMembers.apply(s, c);
  }

  private DataPlaneFixtures() {}
}
