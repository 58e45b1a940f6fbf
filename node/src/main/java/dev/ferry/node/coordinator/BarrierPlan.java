package dev.ferry.node.coordinator;

import dev.ferry.control.AssignmentPolicy;
import dev.ferry.control.ClusterState;
import dev.ferry.control.Member;
import dev.ferry.control.Portion;
import dev.ferry.control.Volume;
import dev.ferry.control.WatermarkDigest;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.PortionRef;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.Watermark;
import dev.ferry.proto.peer.FreezeReply;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * What a barrier round decides (DESIGN.md §5), as pure functions of the replicated state and the
 * members' answers: who takes part, whether the round closes anything, which assignment change
 * rides on the close and which portions it moves, whether the Freeze answers still allow it, and
 * the watermarks to record. {@link EpochBarrier} carries them out over gRPC and Raft; the
 * simulation (node tests, {@code dev.ferry.node.sim}) carries out the same decisions.
 */
public final class BarrierPlan {
  private BarrierPlan() {}

  /** The members that take part in a round: every one that numbers or holds updates. */
  public static List<Member> roundMembers(ClusterState s) {
    return s.members().values().stream()
        .filter(m -> m.state() == MemberState.ACTIVE || m.state() == MemberState.JOINING
            || m.state() == MemberState.DRAINING)
        .toList();
  }

  /**
   * Back-pressure from the secondaries (DESIGN-NOTES, "Bounded pending epochs"): when {@code
   * maxPending} closed epochs already wait to be staged, committed or applied, closing another
   * adds Raft entries and state the pipeline cannot absorb, so the open epoch stays open and
   * grows instead; acks are not held. A planned assignment change (a join, a drain, a
   * rebalance) still closes: membership must not wait for the DR link.
   */
  public static boolean holdsBack(ClusterState s, ReassignPortions change, int maxPending) {
    return change == null && s.epochs().size() >= maxPending;
  }

  /**
   * The assignment change that rides on this close (claims 10, 11): JOINING members become
   * ACTIVE and take their share, DRAINING members give theirs away, the rest is rebalanced.
   * Null when nothing changes.
   */
  public static ReassignPortions plannedChange(ClusterState s) {
    List<String> joining = s.members().values().stream()
        .filter(m -> m.state() == MemberState.JOINING).map(Member::id).toList();
    List<PortionPlacement> changes = AssignmentPolicy.plan(s, joining);
    if (joining.isEmpty() && changes.isEmpty()) {
      return null;
    }
    return ReassignPortions.newBuilder().setBaseVersion(s.assignmentVersion())
        .addAllActivate(joining).addAllChanges(changes).build();
  }

  /** The portions whose owner the change moves: their writes wait for the close. */
  public static List<PortionRef> movingPortions(ClusterState s, ReassignPortions change) {
    List<PortionRef> out = new ArrayList<>();
    if (change != null) {
      for (PortionPlacement p : change.getChangesList()) {
        if (!p.getOwner().equals(s.assignment().get(p.getVolume()).owner((int) p.getRegion()))) {
          out.add(PortionRef.newBuilder().setVolume(p.getVolume()).setRegion(p.getRegion()).build());
        }
      }
    }
    return out;
  }

  /**
   * The planned change, or null when a member answered the Freeze that its owner numbered a
   * moving portion in the next epoch already: an earlier Freeze of this epoch did not name it,
   * and moving it now would give that epoch two owners of it (each would stage half).
   */
  public static ReassignPortions changeAfterFreeze(ReassignPortions change,
      List<FreezeReply> frozen) {
    boolean numberedAfter = frozen.stream().anyMatch(r -> r.getNumberedAfterCount() > 0);
    return change == null || numberedAfter ? null : change;
  }

  /** The failed members whose failure is not settled ("id#incarnation"), for Seal to wait on. */
  public static List<String> unsettledFailures(ClusterState s) {
    return s.members().values().stream()
        .filter(m -> m.failureUnsettled(s.consistentEpoch()))
        .map(m -> m.id() + "#" + m.incarnation()).toList();
  }

  /**
   * A member of the round ("id#incarnation") that the latest state no longer shows with that
   * incarnation as a member taking part in epochs (declared failed meanwhile), or null.
   */
  public static String failedDuringTheRound(ClusterState now, List<Member> members) {
    for (Member m : members) {
      if (!now.stillInRound(m.id(), m.incarnation())) {
        return m.id() + "#" + m.incarnation();
      }
    }
    return null;
  }

  /**
   * Keeps watermarks of existing portions only and folds two reports of one portion into one:
   * that happens only when its owner changed within the epoch (see {@link WatermarkDigest#combine}).
   */
  public static List<Watermark> merge(ClusterState s, List<Watermark> marks) {
    TreeMap<Portion, Watermark> out = new TreeMap<>();
    for (Watermark w : marks) {
      Volume v = s.volumes().get(w.getVolume());
      if (v == null || w.getRegion() < 0 || w.getRegion() >= v.regionCount()) {
        continue;
      }
      out.merge(new Portion(w.getVolume(), (int) w.getRegion()), w, WatermarkDigest::combine);
    }
    return new ArrayList<>(out.values());
  }
}
