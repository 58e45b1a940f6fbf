package dev.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CommitEpoch;
import dev.ferry.proto.control.CreateVolume;
import dev.ferry.proto.control.DeleteVolume;
import dev.ferry.proto.control.Drain;
import dev.ferry.proto.control.EpochApplied;
import dev.ferry.proto.control.EpochStaged;
import dev.ferry.proto.control.MarkFailed;
import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.PortionRef;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import dev.ferry.proto.control.Remove;
import dev.ferry.proto.control.SetCopies;
import dev.ferry.proto.control.SetCtsPeriod;
import dev.ferry.proto.control.Watermark;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** Command builders and small helpers shared by the control-state tests. */
public final class Cmds {
  private Cmds() {}

  public static Command register(String id, String address, long incarnation) {
    return Command.newBuilder()
        .setRegisterMember(
            RegisterMember.newBuilder().setId(id).setAddress(address).setIncarnation(incarnation))
        .build();
  }

  public static Command register(String id) {
    return register(id, addressOf(id), 1);
  }

  public static String addressOf(String id) {
    return id + ".ferry.test:7000";
  }

  public static Command markFailed(String id) {
    return Command.newBuilder().setMarkFailed(MarkFailed.newBuilder().setId(id)).build();
  }

  public static Command drain(String id) {
    return Command.newBuilder().setDrain(Drain.newBuilder().setId(id)).build();
  }

  public static Command remove(String id) {
    return Command.newBuilder().setRemove(Remove.newBuilder().setId(id)).build();
  }

  public static Command setCopies(int copies) {
    return Command.newBuilder().setSetCopies(SetCopies.newBuilder().setCopies(copies)).build();
  }

  public static Command createVolume(String name, long size, long regionSize, String secondary) {
    return Command.newBuilder()
        .setCreateVolume(
            CreateVolume.newBuilder()
                .setName(name)
                .setSizeBytes(size)
                .setRegionSizeBytes(regionSize)
                .setSecondary(secondary))
        .build();
  }

  public static Command createVolume(String name, long size, long regionSize) {
    return createVolume(name, size, regionSize, "");
  }

  public static Command deleteVolume(String name) {
    return Command.newBuilder().setDeleteVolume(DeleteVolume.newBuilder().setName(name)).build();
  }

  public static ReassignPortions reassignMessage(
      long baseVersion, Collection<PortionPlacement> changes, Collection<String> activate) {
    return ReassignPortions.newBuilder()
        .setBaseVersion(baseVersion)
        .addAllChanges(changes)
        .addAllActivate(activate)
        .build();
  }

  public static Command reassign(
      long baseVersion, Collection<PortionPlacement> changes, Collection<String> activate) {
    return Command.newBuilder()
        .setReassignPortions(reassignMessage(baseVersion, changes, activate))
        .build();
  }

  /** What the coordinator proposes to activate {@code joining}: the planned delta, current base. */
  public static Command activate(ClusterState s, Collection<String> joining) {
    return reassign(s.assignmentVersion(), AssignmentPolicy.plan(s, joining), joining);
  }

  public static PortionPlacement placement(String volume, int region, String owner, String mirror) {
    return PortionPlacement.newBuilder()
        .setVolume(volume)
        .setRegion(region)
        .setOwner(owner)
        .setMirror(mirror)
        .build();
  }

  public static Watermark watermark(String volume, int region, long lastN) {
    return Watermark.newBuilder()
        .setVolume(volume)
        .setRegion(region)
        .setLastN(lastN)
        .setCount(lastN)
        .setBytes(4096 * lastN)
        .build();
  }

  public static Command closeEpoch(long epoch, long closedAtMillis, Collection<Watermark> marks) {
    return Command.newBuilder()
        .setCloseEpoch(
            CloseEpoch.newBuilder()
                .setEpoch(epoch)
                .setClosedAtMillis(closedAtMillis)
                .addAllWatermarks(marks))
        .build();
  }

  public static Command epochStaged(long epoch, Collection<Portion> portions) {
    EpochStaged.Builder b = EpochStaged.newBuilder().setEpoch(epoch);
    for (Portion p : portions) {
      b.addPortions(PortionRef.newBuilder().setVolume(p.volume()).setRegion(p.region()));
    }
    return Command.newBuilder().setEpochStaged(b).build();
  }

  public static Command amendWatermark(long epoch, Watermark w) {
    return Command.newBuilder().setAmendWatermark(
        dev.ferry.proto.control.AmendWatermark.newBuilder().setEpoch(epoch).setWatermark(w)).build();
  }

  public static Command commitEpoch(long epoch) {
    return Command.newBuilder().setCommitEpoch(CommitEpoch.newBuilder().setEpoch(epoch)).build();
  }

  public static Command epochApplied(long epoch, String secondary) {
    return Command.newBuilder()
        .setEpochApplied(EpochApplied.newBuilder().setEpoch(epoch).setSecondary(secondary))
        .build();
  }

  public static Command detachSecondary(String secondary) {
    return Command.newBuilder().setDetachSecondary(
        dev.ferry.proto.control.DetachSecondary.newBuilder().setSecondary(secondary)).build();
  }

  public static Command setCtsPeriod(long periodMillis) {
    return Command.newBuilder()
        .setSetCtsPeriod(SetCtsPeriod.newBuilder().setPeriodMillis(periodMillis))
        .build();
  }

  /** Applies a command that must be accepted and returns the new state. */
  public static ClusterState accept(ClusterState s, Command c) {
    Outcome o = ClusterTransitions.apply(s, c);
    assertThat(o)
        .as("outcome of %s", c)
        .isInstanceOf(Outcome.Accepted.class);
    return o.state();
  }

  /**
   * Closes and commits empty epochs (no updates, no secondary) until every failure of {@code s}
   * is settled: the epoch after the one open when it was declared is applied.
   */
  public static ClusterState settleFailures(ClusterState s) {
    ClusterState now = s;
    while (now.unsettledFailures() > 0) {
      long epoch = now.openEpoch();
      now = accept(accept(now, closeEpoch(epoch, 0, List.of())), commitEpoch(epoch));
    }
    return now;
  }

  /** Ids n1..nN, registered and activated the way the coordinator does it. */
  public static ClusterState activeCluster(int n) {
    ClusterState s = ClusterState.EMPTY;
    List<String> ids = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      ids.add("n" + i);
      s = accept(s, register("n" + i));
    }
    return accept(s, activate(s, ids));
  }
}
