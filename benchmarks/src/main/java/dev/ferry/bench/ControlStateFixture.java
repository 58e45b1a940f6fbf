package dev.ferry.bench;

import dev.ferry.control.AssignmentPolicy;
import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Member;
import dev.ferry.control.Outcome;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CreateVolume;
import dev.ferry.proto.control.MarkFailed;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import java.util.List;

/**
 * The large control state shared by {@link ControlStateBenchmark} and {@link SnapshotSize}:
 * 100 volumes of 1,000 regions each (100,000 portions) over 5 ACTIVE members, plus a 6th member
 * that has registered (JOINING) and waits for the coordinator to activate it.
 *
 * <p>The state is built the way a real cluster reaches it, by applying commands with {@link
 * ClusterTransitions#apply}; every command must be accepted and the result is checked, so a
 * benchmark cannot silently run against an empty or half-built state.
 */
final class ControlStateFixture {
  static final int VOLUMES = 100;
  static final int REGIONS_PER_VOLUME = 1_000;
  static final long PORTIONS = (long) VOLUMES * REGIONS_PER_VOLUME;
  static final long REGION_SIZE_BYTES = 64L << 20; // the node's default volume.default.region.size
  static final int ACTIVE_MEMBERS = 5;
  /** The member that is JOINING in {@link #state} and that {@link #rebalanceCommand} activates. */
  static final String JOINING_MEMBER = "n" + (ACTIVE_MEMBERS + 1);
  /** The member that {@link #markFailedCommand} declares dead. */
  static final String FAILING_MEMBER = "n1";

  /** The 5-active + 1-joining state with 100,000 portions. */
  final ClusterState state;
  /** What the coordinator proposes for the join: activate n6 and move its share of portions. */
  final Command rebalanceCommand;
  /** MarkFailed of {@link #FAILING_MEMBER}: the state machine rebalances at apply time. */
  final Command markFailedCommand;

  private ControlStateFixture(ClusterState state, Command rebalance, Command markFailed) {
    this.state = state;
    this.rebalanceCommand = rebalance;
    this.markFailedCommand = markFailed;
  }

  /** Builds the state and the commands, and checks that both commands are accepted on it. */
  static ControlStateFixture build() {
    ClusterState s = ClusterState.EMPTY;
    for (int i = 1; i <= ACTIVE_MEMBERS; i++) {
      s = applyOrThrow(s, register("n" + i));
    }
    s = applyOrThrow(s, activateJoining(s));
    for (int v = 0; v < VOLUMES; v++) {
      s = applyOrThrow(
          s,
          Command.newBuilder()
              .setCreateVolume(
                  CreateVolume.newBuilder()
                      .setName(String.format("vol-%03d", v))
                      .setSizeBytes(REGIONS_PER_VOLUME * REGION_SIZE_BYTES)
                      .setRegionSizeBytes(REGION_SIZE_BYTES)
                      .setSecondary("dr-site.example:7400"))
              .build());
    }
    s = applyOrThrow(s, register(JOINING_MEMBER));
    check(s);

    Command rebalance = activateJoining(s);
    if (rebalance.getReassignPortions().getChangesCount() == 0) {
      throw new IllegalStateException("the join of " + JOINING_MEMBER + " moves no portion");
    }
    ClusterState afterRebalance = applyOrThrow(s, rebalance);
    if (afterRebalance.activeMemberIds().size() != ACTIVE_MEMBERS + 1
        || afterRebalance.assignmentVersion() != s.assignmentVersion() + 1) {
      throw new IllegalStateException("the rebalance did not activate " + JOINING_MEMBER);
    }

    Command markFailed =
        Command.newBuilder().setMarkFailed(MarkFailed.newBuilder().setId(FAILING_MEMBER)).build();
    ClusterState afterFailure = applyOrThrow(s, markFailed);
    if (afterFailure.assignmentVersion() != s.assignmentVersion() + 1) {
      throw new IllegalStateException("MarkFailed of " + FAILING_MEMBER + " moved no portion");
    }
    return new ControlStateFixture(s, rebalance, markFailed);
  }

  /** The coordinator's command: activate every JOINING member with the planned delta. */
  static Command activateJoining(ClusterState s) {
    List<String> joining =
        s.members().values().stream()
            .filter(m -> m.state() == MemberState.JOINING)
            .map(Member::id)
            .toList();
    return Command.newBuilder()
        .setReassignPortions(
            ReassignPortions.newBuilder()
                .setBaseVersion(s.assignmentVersion())
                .addAllActivate(joining)
                .addAllChanges(AssignmentPolicy.plan(s, joining)))
        .build();
  }

  static ClusterState applyOrThrow(ClusterState s, Command c) {
    Outcome o = ClusterTransitions.apply(s, c);
    if (o instanceof Outcome.Rejected r) {
      throw new IllegalStateException(
          "setup command " + c.getKindCase() + " rejected: " + r.code() + " " + r.reason());
    }
    return o.state();
  }

  private static Command register(String id) {
    int n = Integer.parseInt(id.substring(1));
    return Command.newBuilder()
        .setRegisterMember(
            RegisterMember.newBuilder()
                .setId(id)
                .setAddress("10.0.0." + n + ":7400")
                .setIncarnation(1))
        .build();
  }

  private static void check(ClusterState s) {
    if (s.volumes().size() != VOLUMES || s.portionCount() != PORTIONS) {
      throw new IllegalStateException(
          "expected " + PORTIONS + " portions in " + VOLUMES + " volumes, got "
              + s.portionCount() + " in " + s.volumes().size());
    }
    if (s.activeMemberIds().size() != ACTIVE_MEMBERS
        || s.members().get(JOINING_MEMBER).state() != MemberState.JOINING) {
      throw new IllegalStateException(
          "expected " + ACTIVE_MEMBERS + " ACTIVE members and " + JOINING_MEMBER
              + " JOINING, got " + s.members().values());
    }
    s.assignment()
        .forEach(
            (volume, a) -> {
              for (int r = 0; r < a.regions(); r++) {
                if (a.owner(r) == null || a.mirror(r) == null) {
                  throw new IllegalStateException("portion " + volume + "/" + r + " is unplaced");
                }
              }
            });
  }
}
