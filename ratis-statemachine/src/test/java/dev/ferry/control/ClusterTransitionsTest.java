package dev.ferry.control;

import static dev.ferry.control.Cmds.accept;
import static dev.ferry.control.Cmds.activate;
import static dev.ferry.control.Cmds.activeCluster;
import static dev.ferry.control.Cmds.addressOf;
import static dev.ferry.control.Cmds.closeEpoch;
import static dev.ferry.control.Cmds.commitEpoch;
import static dev.ferry.control.Cmds.createVolume;
import static dev.ferry.control.Cmds.deleteVolume;
import static dev.ferry.control.Cmds.drain;
import static dev.ferry.control.Cmds.epochApplied;
import static dev.ferry.control.Cmds.epochStaged;
import static dev.ferry.control.Cmds.markFailed;
import static dev.ferry.control.Cmds.placement;
import static dev.ferry.control.Cmds.reassign;
import static dev.ferry.control.Cmds.register;
import static dev.ferry.control.Cmds.remove;
import static dev.ferry.control.Cmds.setCopies;
import static dev.ferry.control.Cmds.setCtsPeriod;
import static dev.ferry.control.Cmds.watermark;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.RejectCode;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class ClusterTransitionsTest {
  private static final int MIB = 1 << 20;

  /** Applies a command that must be rejected; the state handed back must be the input itself. */
  private static Outcome.Rejected reject(ClusterState s, Command c, RejectCode code, String text) {
    Outcome o = ClusterTransitions.apply(s, c);
    assertThat(o).as("outcome of %s", c).isInstanceOf(Outcome.Rejected.class);
    Outcome.Rejected r = (Outcome.Rejected) o;
    assertThat(r.code()).as("reject code; reason: %s", r.reason()).isEqualTo(code);
    assertThat(r.reason()).contains(text);
    assertThat(r.state()).isSameAs(s);
    return r;
  }

  private static ClusterState withVolume(int members, String name, int regions, String secondary) {
    return accept(activeCluster(members),
        createVolume(name, (long) regions * MIB, MIB, secondary));
  }

  private static long owned(ClusterState s, String id) {
    return ClusterStateCodec.placements(s).stream().filter(p -> p.getOwner().equals(id)).count();
  }

  private static long mirrored(ClusterState s, String id) {
    return ClusterStateCodec.placements(s).stream().filter(p -> p.getMirror().equals(id)).count();
  }

  @Test
  void emptyCommandIsInvalid() {
    reject(ClusterState.EMPTY, Command.getDefaultInstance(), RejectCode.INVALID, "empty command");
  }

  @Nested
  class RegisterMember {
    @Test
    void newMemberJoins() {
      ClusterState s = accept(ClusterState.EMPTY, register("a", "a.example:7000", 3));
      assertThat(s.members()).containsOnlyKeys("a");
      assertThat(s.members().get("a"))
          .isEqualTo(new Member("a", "a.example:7000", MemberState.JOINING, 3));
      assertThat(s.activeMemberIds()).isEmpty();
      assertThat(s.assignmentVersion()).isZero();
    }

    @Test
    void sameIdIncarnationAndAddressIsIdempotent() {
      ClusterState s = accept(ClusterState.EMPTY, register("a"));
      assertThat(accept(s, register("a"))).isSameAs(s);

      ClusterState active = activeCluster(2);
      assertThat(accept(active, register("n1"))).isSameAs(active);
    }

    @Test
    void sameIdWithAnotherAddressIsAlreadyExists() {
      ClusterState s = accept(ClusterState.EMPTY, register("a"));
      reject(s, register("a", "elsewhere:7000", 1), RejectCode.ALREADY_EXISTS,
          "already registered");
      reject(s, register("a", addressOf("a"), 2), RejectCode.ALREADY_EXISTS, "already registered");
    }

    @Test
    void malformedRegistrationsAreInvalid() {
      ClusterState s = ClusterState.EMPTY;
      reject(s, register("", "h:1", 1), RejectCode.INVALID, "member id");
      reject(s, register("-a", "h:1", 1), RejectCode.INVALID, "member id");
      reject(s, register("a b", "h:1", 1), RejectCode.INVALID, "member id");
      reject(s, register("a", "no-port", 1), RejectCode.INVALID, "host:port");
      reject(s, register("a", "h:65536", 1), RejectCode.INVALID, "host:port");
      reject(s, register("a", "h:1", 0), RejectCode.INVALID, "incarnation");
    }

    @Test
    void failedMemberRejoinsWithAHigherIncarnationAsJoining() {
      ClusterState s = Cmds.settleFailures(accept(activeCluster(3), markFailed("n2")));
      assertThat(s.members().get("n2").state()).isEqualTo(MemberState.FAILED);

      ClusterState back = accept(s, register("n2", "n2.new:7001", 2));
      assertThat(back.members().get("n2"))
          .isEqualTo(new Member("n2", "n2.new:7001", MemberState.JOINING, 2));
      assertThat(back.activeMemberIds()).containsExactly("n1", "n3");
    }

    /**
     * Soak of 2026-12-07 (run 10): n2, declared failed while alive, rejoined 0.15 s later; its
     * FAILED record, replaced, no longer counted, so the crashed n1 was failed too and an
     * acknowledged write whose copies were n2's (dropped) and n1's was lost.
     */
    @Test
    void aFailedMemberRejoinsOnlyOnceItsFailureIsSettled() {
      ClusterState failed = accept(activeCluster(3), markFailed("n2"));
      reject(failed, register("n2", addressOf("n2"), 2), RejectCode.CONFLICT, "not settled");
      assertThat(failed.members().get("n2").state()).isEqualTo(MemberState.FAILED);
      ClusterState back = accept(Cmds.settleFailures(failed), register("n2", addressOf("n2"), 2));
      assertThat(back.members().get("n2").state()).isEqualTo(MemberState.JOINING);
    }

    @Test
    void failedMemberWithTheSameIncarnationIsAConflict() {
      ClusterState s = accept(activeCluster(3), markFailed("n2"));
      reject(s, register("n2"), RejectCode.CONFLICT, "higher incarnation");
    }

    @Test
    void removedIdIsNeverReused() {
      ClusterState s = accept(accept(activeCluster(3), drain("n3")), remove("n3"));
      reject(s, register("n3", addressOf("n3"), 7), RejectCode.ALREADY_EXISTS, "removed");
    }
  }

  @Nested
  class Activation {
    @Test
    void reassignActivatesJoiningMembersAndBumpsTheVersion() {
      ClusterState s = activeCluster(3);
      assertThat(s.activeMemberIds()).containsExactly("n1", "n2", "n3");
      assertThat(s.assignmentVersion()).isEqualTo(1);

      ClusterState withVolume = accept(s, createVolume("v", 9L * MIB, MIB));
      ClusterState joining = accept(withVolume, register("n4"));
      ClusterState after = accept(joining, activate(joining, List.of("n4")));
      assertThat(after.members().get("n4").state()).isEqualTo(MemberState.ACTIVE);
      assertThat(after.assignmentVersion()).isEqualTo(joining.assignmentVersion() + 1);
      assertThat(owned(after, "n4")).isBetween(2L, 3L);
      assertThat(mirrored(after, "n4")).isBetween(2L, 3L);
    }

    @Test
    void activatingAnActiveMemberIsAConflict() {
      ClusterState s = activeCluster(2);
      reject(s, reassign(s.assignmentVersion(), List.of(), List.of("n1")),
          RejectCode.CONFLICT, "only JOINING members activate");
    }

    @Test
    void activatingAFailedMemberIsAConflict() {
      ClusterState s = accept(activeCluster(3), markFailed("n3"));
      reject(s, reassign(s.assignmentVersion(), List.of(), List.of("n3")),
          RejectCode.CONFLICT, "only JOINING members activate");
    }

    @Test
    void activatingAnUnknownMemberIsNotFound() {
      ClusterState s = activeCluster(2);
      reject(s, reassign(s.assignmentVersion(), List.of(), List.of("ghost")),
          RejectCode.NOT_FOUND, "unknown member");
    }

    @Test
    void staleBaseVersionIsAConflict() {
      ClusterState s = withVolume(3, "v", 6, "");
      Command planned = activate(s, List.of());
      ClusterState moved = accept(s, planned); // bumps the version
      reject(moved, planned, RejectCode.CONFLICT, "stale assignment version");
      reject(moved, reassign(moved.assignmentVersion() + 1, List.of(), List.of()),
          RejectCode.CONFLICT, "stale assignment version");
    }

    @Test
    void ownerEqualToMirrorIsAConflict() {
      ClusterState s = withVolume(3, "v", 6, "");
      String owner = s.assignment().get("v").owner(0);
      reject(s,
          reassign(s.assignmentVersion(), List.of(placement("v", 0, owner, owner)), List.of()),
          RejectCode.CONFLICT, "owner and mirror are both " + owner);
    }

    @Test
    void placingOnAnUnknownOrInactiveMemberIsAConflict() {
      ClusterState s = accept(withVolume(3, "v", 6, ""), register("n4"));
      String mirror = s.assignment().get("v").mirror(0);
      reject(s, reassign(s.assignmentVersion(), List.of(placement("v", 0, "ghost", mirror)),
          List.of()), RejectCode.CONFLICT, "owner 'ghost' is not an active member");
      // n4 is JOINING and not activated by this command
      reject(s, reassign(s.assignmentVersion(), List.of(placement("v", 0, "n4", mirror)),
          List.of()), RejectCode.CONFLICT, "owner 'n4' is not an active member");
    }

    @Test
    void missingMirrorWithTwoActiveMembersIsAConflict() {
      ClusterState s = withVolume(2, "v", 2, "");
      String owner = s.assignment().get("v").owner(0);
      reject(s, reassign(s.assignmentVersion(), List.of(placement("v", 0, owner, "")), List.of()),
          RejectCode.CONFLICT, "has 0 mirror(s)");
    }

    @Test
    void badPortionReferencesAreRejected() {
      ClusterState s = withVolume(2, "v", 2, "");
      reject(s, reassign(s.assignmentVersion(), List.of(placement("w", 0, "n1", "n2")), List.of()),
          RejectCode.NOT_FOUND, "volume w does not exist");
      reject(s, reassign(s.assignmentVersion(), List.of(placement("v", 2, "n1", "n2")), List.of()),
          RejectCode.INVALID, "outside volume v");
      reject(s, reassign(s.assignmentVersion(),
              List.of(placement("v", 0, "n1", "n2"), placement("v", 0, "n2", "n1")), List.of()),
          RejectCode.INVALID, "appears twice");
    }

    @Test
    void aValidDeltaIsApplied() {
      ClusterState s = withVolume(2, "v", 2, "");
      var a = s.assignment().get("v");
      ClusterState swapped = accept(s, reassign(s.assignmentVersion(),
          List.of(placement("v", 0, a.mirror(0), a.owner(0)),
              placement("v", 1, a.mirror(1), a.owner(1))), List.of()));
      assertThat(swapped.assignment().get("v").owner(0)).isEqualTo(a.mirror(0));
      assertThat(swapped.assignment().get("v").mirror(1)).isEqualTo(a.owner(1));
      assertThat(swapped.assignmentVersion()).isEqualTo(s.assignmentVersion() + 1);
    }
  }

  @Nested
  class MarkFailedDrainRemove {
    @Test
    void markFailedMovesEverythingOffTheMember() {
      ClusterState s = withVolume(3, "v", 12, "");
      ClusterState after = accept(s, markFailed("n2"));
      assertThat(after.members().get("n2").state()).isEqualTo(MemberState.FAILED);
      assertThat(after.activeMemberIds()).containsExactly("n1", "n3");
      assertThat(owned(after, "n2")).isZero();
      assertThat(mirrored(after, "n2")).isZero();
      assertThat(owned(after, "n1")).isEqualTo(6);
      assertThat(owned(after, "n3")).isEqualTo(6);
      assertThat(after.assignmentVersion()).isEqualTo(s.assignmentVersion() + 1);
    }

    @Test
    void markFailedOfAJoiningMemberLeavesTheAssignmentAlone() {
      ClusterState s = accept(withVolume(2, "v", 4, ""), register("n3"));
      ClusterState after = accept(s, markFailed("n3"));
      assertThat(after.members().get("n3").state()).isEqualTo(MemberState.FAILED);
      assertThat(after.assignment()).isEqualTo(s.assignment());
      assertThat(after.assignmentVersion()).isEqualTo(s.assignmentVersion());
    }

    @Test
    void markFailedOfAnUnknownMemberIsNotFound() {
      reject(activeCluster(2), markFailed("ghost"), RejectCode.NOT_FOUND, "unknown member");
    }

    @Test
    void markFailedRecordsTheOpenEpochAndTheFailureSettlesOnceTheNextEpochIsApplied() {
      ClusterState s = withVolume(3, "v", 12, "");
      ClusterState after = accept(s, markFailed("n2"));
      Member failed = after.members().get("n2");
      assertThat(failed.failedAtEpoch()).isEqualTo(s.openEpoch());
      assertThat(failed.failureUnsettled(s.openEpoch())).isTrue();
      assertThat(failed.failureUnsettled(s.openEpoch() + 1)).isFalse();
      assertThat(ClusterStateCodec.fromProto(ClusterStateCodec.toProto(after))).isEqualTo(after);
    }

    @Test
    void markFailedOfAnEarlierIncarnationIsAConflict() {
      ClusterState s = activeCluster(3);
      long incarnation = s.members().get("n2").incarnation();
      Command stale = Command.newBuilder().setMarkFailed(dev.ferry.proto.control.MarkFailed
          .newBuilder().setId("n2").setIncarnation(incarnation + 1)).build();
      reject(s, stale, RejectCode.CONFLICT, "incarnation");
      Command current = Command.newBuilder().setMarkFailed(dev.ferry.proto.control.MarkFailed
          .newBuilder().setId("n2").setIncarnation(incarnation)).build();
      assertThat(accept(s, current).members().get("n2").state()).isEqualTo(MemberState.FAILED);
    }

    @Test
    void noMoreUnsettledFailuresThanCopiesMinusOne() {
      ClusterState oneFailed = accept(activeCluster(3), markFailed("n1")); // copies 2
      reject(oneFailed, markFailed("n2"), RejectCode.CONFLICT, "not settled");
      ClusterState settled = Cmds.settleFailures(oneFailed);
      assertThat(accept(settled, markFailed("n2")).members().get("n2").state())
          .isEqualTo(MemberState.FAILED);

      ClusterState three = accept(activeCluster(5), setCopies(3));
      ClusterState twoFailed = accept(accept(three, markFailed("n1")), markFailed("n2"));
      reject(twoFailed, markFailed("n3"), RejectCode.CONFLICT, "not settled");
    }

    @Test
    void markFailedTwiceIsAConflict() {
      ClusterState s = accept(activeCluster(3), markFailed("n1"));
      reject(s, markFailed("n1"), RejectCode.CONFLICT, "already FAILED");
    }

    @Test
    void drainMovesNothingItselfAndThePlanAtTheNextEpochEndMovesEverythingOff() {
      ClusterState s = withVolume(3, "v", 7, "");
      ClusterState draining = accept(s, drain("n1"));
      assertThat(draining.members().get("n1").state()).isEqualTo(MemberState.DRAINING);
      // owners change only at epoch ends: the drain itself leaves the portions where they are
      assertThat(draining.assignment()).isEqualTo(s.assignment());
      reject(draining, remove("n1"), RejectCode.CONFLICT, "still holds");
      ClusterState after = accept(draining, Cmds.activate(draining, List.of()));
      assertThat(owned(after, "n1")).isZero();
      assertThat(mirrored(after, "n1")).isZero();
      assertThat(accept(after, remove("n1")).members().get("n1").state())
          .isEqualTo(MemberState.REMOVED);
    }

    @Test
    void drainOfAnUnknownMemberIsNotFound() {
      reject(activeCluster(2), drain("ghost"), RejectCode.NOT_FOUND, "unknown member");
    }

    @Test
    void drainThatWouldLeaveOneActiveMemberWithVolumesIsAConflict() {
      reject(withVolume(2, "v", 2, ""), drain("n1"), RejectCode.CONFLICT, "would leave 1");
      // without volumes the same drain is fine
      assertThat(accept(activeCluster(2), drain("n1")).activeMemberIds()).containsExactly("n2");
    }

    @Test
    void drainOfAFailedMemberIsAConflict() {
      ClusterState s = accept(activeCluster(3), markFailed("n3"));
      reject(s, drain("n3"), RejectCode.CONFLICT, "only ACTIVE or JOINING members drain");
    }

    @Test
    void removeOfADrainedOrFailedMemberIsAccepted() {
      ClusterState s = accept(accept(activeCluster(4), drain("n1")), markFailed("n2"));
      ClusterState after = accept(accept(s, remove("n1")), remove("n2"));
      assertThat(after.members().get("n1").state()).isEqualTo(MemberState.REMOVED);
      assertThat(after.members().get("n2").state()).isEqualTo(MemberState.REMOVED);
    }

    @Test
    void removeOfAnActiveMemberIsAConflict() {
      reject(activeCluster(2), remove("n1"), RejectCode.CONFLICT, "drain it first");
    }

    @Test
    void removeTwiceIsAConflict() {
      ClusterState s = accept(accept(activeCluster(3), drain("n1")), remove("n1"));
      reject(s, remove("n1"), RejectCode.CONFLICT, "already REMOVED");
    }

    @Test
    void removeOfAnUnknownMemberIsNotFound() {
      reject(activeCluster(2), remove("ghost"), RejectCode.NOT_FOUND, "unknown member");
    }
  }

  @Nested
  class Volumes {
    @Test
    void createVolumePlacesEveryRegion() {
      ClusterState s = activeCluster(3);
      // 10 MiB + 1 byte in 1 MiB regions: 11 regions, the last one short
      ClusterState after = accept(s, createVolume("v", 10L * MIB + 1, MIB, "dr.example:9000"));
      assertThat(after.volumes().get("v"))
          .isEqualTo(new Volume("v", 10L * MIB + 1, MIB, "dr.example:9000"));
      assertThat(after.volumes().get("v").regionCount()).isEqualTo(11);
      assertThat(after.assignment().get("v").regions()).isEqualTo(11);
      assertThat(after.portionCount()).isEqualTo(11);
      assertThat(after.assignmentVersion()).isEqualTo(s.assignmentVersion() + 1);
      for (String id : List.of("n1", "n2", "n3")) {
        assertThat(owned(after, id)).isBetween(3L, 4L);
        assertThat(mirrored(after, id)).isBetween(3L, 4L);
      }
    }

    @Test
    void regionSizeEqualToTheVolumeSizeGivesOneRegion() {
      ClusterState after = accept(activeCluster(2), createVolume("v", 5000, 5000));
      assertThat(after.portionCount()).isEqualTo(1);
    }

    @Test
    void duplicateVolumeIsAlreadyExists() {
      ClusterState s = withVolume(2, "v", 4, "");
      reject(s, createVolume("v", 4L * MIB, MIB), RejectCode.ALREADY_EXISTS, "already exists");
    }

    @Test
    void zeroSizeIsInvalid() {
      reject(activeCluster(2), createVolume("v", 0, MIB), RejectCode.INVALID, "size");
    }

    @Test
    void negativeSizeIsInvalid() {
      reject(activeCluster(2), createVolume("v", -MIB, MIB), RejectCode.INVALID, "size");
    }

    @Test
    void zeroOrNegativeRegionSizeIsInvalid() {
      reject(activeCluster(2), createVolume("v", MIB, 0), RejectCode.INVALID, "region size");
      reject(activeCluster(2), createVolume("v", MIB, -1), RejectCode.INVALID, "region size");
    }

    @Test
    void regionLargerThanTheVolumeIsInvalid() {
      reject(activeCluster(2), createVolume("v", MIB, MIB + 1), RejectCode.INVALID,
          "larger than the volume size");
    }

    @Test
    void tooManyRegionsIsInvalid() {
      reject(activeCluster(2),
          createVolume("v", (ControlLimits.DEFAULT_MAX_PORTIONS_PER_VOLUME + 1L) * MIB, MIB),
          RejectCode.INVALID, "portions, more than the maximum 65536 per volume");
    }

    @Test
    void hugeSizesDoNotOverflowTheRegionCount() {
      // (size + regionSize - 1) overflows a long here; the count must still come out huge
      reject(activeCluster(2), createVolume("v", Long.MAX_VALUE, MIB), RejectCode.INVALID,
          "volume would have 8796093022208 portions");
      reject(activeCluster(2), createVolume("v", Long.MAX_VALUE, 2), RejectCode.INVALID,
          "below the minimum");
      ClusterState one = accept(activeCluster(2),
          createVolume("v", Long.MAX_VALUE, Long.MAX_VALUE));
      assertThat(one.volumes().get("v").regionCount()).isEqualTo(1);
      assertThat(one.portionCount()).isEqualTo(1);
      ClusterState two = accept(activeCluster(2),
          createVolume("v", Long.MAX_VALUE, Long.MAX_VALUE / 2));
      assertThat(two.volumes().get("v").regionCount()).isEqualTo(3);
    }

    @Test
    void badNamesAndSecondariesAreInvalid() {
      reject(activeCluster(2), createVolume("", MIB, MIB), RejectCode.INVALID, "volume name");
      reject(activeCluster(2), createVolume("v/1", MIB, MIB), RejectCode.INVALID, "volume name");
      reject(activeCluster(2), createVolume("v", MIB, MIB, "nope"), RejectCode.INVALID,
          "secondary");
    }

    @Test
    void volumeNeedsTwoActiveMembers() {
      reject(ClusterState.EMPTY, createVolume("v", MIB, MIB), RejectCode.CONFLICT,
          "at least 2 active members");
      ClusterState joining = accept(accept(ClusterState.EMPTY, register("a")), register("b"));
      reject(joining, createVolume("v", MIB, MIB), RejectCode.CONFLICT, "the cluster has 0");
      reject(activeCluster(1), createVolume("v", MIB, MIB), RejectCode.CONFLICT,
          "the cluster has 1");
    }

    @Test
    void deleteVolumeDropsItsAssignment() {
      ClusterState s = accept(withVolume(3, "v", 4, ""), createVolume("w", 3L * MIB, MIB));
      ClusterState after = accept(s, deleteVolume("v"));
      assertThat(after.volumes()).containsOnlyKeys("w");
      assertThat(after.assignment()).containsOnlyKeys("w");
      assertThat(after.portionCount()).isEqualTo(3);
    }

    @Test
    void deleteOfAnUnknownVolumeIsNotFound() {
      reject(withVolume(2, "v", 2, ""), deleteVolume("w"), RejectCode.NOT_FOUND, "does not exist");
    }

    @Test
    void deleteOfAVolumeWithUnappliedUpdatesIsAConflict() {
      ClusterState s = withVolume(2, "v", 2, "dr:9000");
      ClusterState closed = accept(s, closeEpoch(1, 10, List.of(watermark("v", 1, 5))));
      reject(closed, deleteVolume("v"), RejectCode.CONFLICT, "not applied yet");
    }
  }

  @Nested
  class Epochs {
    private static final String DR = "dr.example:9000";

    @Test
    void lifecycleAdvancesTheConsistentEpoch() {
      ClusterState s = withVolume(2, "v", 4, DR);
      assertThat(s.openEpoch()).isEqualTo(1);
      assertThat(s.consistentEpoch()).isZero();

      ClusterState closed =
          accept(s, closeEpoch(1, 1_000, List.of(watermark("v", 0, 3), watermark("v", 2, 9))));
      assertThat(closed.openEpoch()).isEqualTo(2);
      EpochRecord e = closed.epochs().get(1L);
      assertThat(e.state()).isEqualTo(EpochState.CLOSED);
      assertThat(e.watermarks()).containsOnlyKeys(new Portion("v", 0), new Portion("v", 2));
      assertThat(e.secondaries()).containsExactly(DR);
      assertThat(e.closedAtMillis()).isEqualTo(1_000);

      ClusterState half = accept(closed, epochStaged(1, List.of(new Portion("v", 2))));
      assertThat(half.epochs().get(1L).state()).isEqualTo(EpochState.CLOSED);
      assertThat(half.epochs().get(1L).staged()).containsExactly(new Portion("v", 2));

      ClusterState staged = accept(half, epochStaged(1, List.of(new Portion("v", 0))));
      assertThat(staged.epochs().get(1L).state()).isEqualTo(EpochState.STAGED);

      ClusterState committed = accept(staged, commitEpoch(1));
      assertThat(committed.epochs().get(1L).state()).isEqualTo(EpochState.COMMITTED);
      assertThat(committed.consistentEpoch()).isZero();

      ClusterState applied = accept(committed, epochApplied(1, DR));
      assertThat(applied.epochs()).isEmpty();
      assertThat(applied.consistentEpoch()).isEqualTo(1);
      assertThat(applied.consistentEpochClosedAtMillis()).isEqualTo(1_000);
      assertThat(applied.openEpoch()).isEqualTo(2);
      // the RPO runs from the close of the last applied epoch; none applied yet: -1
      assertThat(applied.rpoMillis(1_750)).isEqualTo(750);
      assertThat(applied.rpoMillis(900)).as("a clock behind the close time").isZero();
      assertThat(committed.rpoMillis(1_750)).isEqualTo(-1);
    }

    @Test
    void aWatermarkOfAClosedUnstagedPortionCanOnlyShrink() {
      ClusterState closed = accept(withVolume(2, "v", 4, DR),
          closeEpoch(1, 1_000, List.of(watermark("v", 0, 3), watermark("v", 2, 9))));
      ClusterState amended = accept(closed, Cmds.amendWatermark(1, watermark("v", 2, 8)));
      assertThat(amended.epochs().get(1L).watermarks().get(new Portion("v", 2)).getLastN())
          .isEqualTo(8);
      assertThat(amended.epochs().get(1L).watermarks().get(new Portion("v", 0)))
          .isEqualTo(closed.epochs().get(1L).watermarks().get(new Portion("v", 0)));
      reject(closed, Cmds.amendWatermark(1, watermark("v", 2, 10)), RejectCode.INVALID,
          "can only shrink");
      reject(closed, Cmds.amendWatermark(1, watermark("v", 1, 1)), RejectCode.INVALID,
          "has no updates in epoch 1");
      ClusterState staged = accept(closed, epochStaged(1, List.of(new Portion("v", 2))));
      reject(staged, Cmds.amendWatermark(1, watermark("v", 2, 8)), RejectCode.CONFLICT,
          "staged already");
    }

    @Test
    void epochsWithoutASecondaryAreAppliedAtCommit() {
      ClusterState s = withVolume(2, "v", 4, "");
      ClusterState closed = accept(s, closeEpoch(1, 77, List.of(watermark("v", 1, 1))));
      assertThat(closed.epochs().get(1L).secondaries()).isEmpty();
      // nothing to transfer: the portion counts as staged at once
      assertThat(closed.epochs().get(1L).staged()).containsExactly(new Portion("v", 1));
      assertThat(closed.epochs().get(1L).state()).isEqualTo(EpochState.STAGED);
      ClusterState committed = accept(closed, commitEpoch(1));
      assertThat(committed.epochs()).isEmpty();
      assertThat(committed.consistentEpoch()).isEqualTo(1);
      assertThat(committed.consistentEpochClosedAtMillis()).isEqualTo(77);
    }

    @Test
    void anEmptyEpochCommitsAtOnce() {
      ClusterState closed = accept(activeCluster(2), closeEpoch(1, 5, List.of()));
      ClusterState committed = accept(closed, commitEpoch(1));
      assertThat(committed.epochs()).isEmpty();
      assertThat(committed.consistentEpoch()).isEqualTo(1);
    }

    @Test
    void theConsistentPointWaitsForEarlierEpochs() {
      ClusterState s = withVolume(2, "v", 2, DR);
      s = accept(s, closeEpoch(1, 10, List.of(watermark("v", 0, 1))));
      s = accept(s, closeEpoch(2, 20, List.of()));
      s = accept(s, epochStaged(1, List.of(new Portion("v", 0))));
      s = accept(s, commitEpoch(1));
      s = accept(s, commitEpoch(2));
      s = accept(s, epochApplied(2, DR)); // the secondary applied 2, but 1 is not applied yet
      assertThat(s.consistentEpoch()).isZero();
      assertThat(s.epochs()).containsOnlyKeys(1L, 2L);
      s = accept(s, epochApplied(1, DR));
      assertThat(s.epochs()).isEmpty();
      assertThat(s.consistentEpoch()).isEqualTo(2);
      assertThat(s.consistentEpochClosedAtMillis()).isEqualTo(20);
    }

    @Test
    void commitOutOfOrderIsAConflict() {
      ClusterState s = withVolume(2, "v", 2, DR);
      s = accept(s, closeEpoch(1, 10, List.of(watermark("v", 0, 1))));
      s = accept(s, closeEpoch(2, 20, List.of()));
      reject(s, commitEpoch(2), RejectCode.CONFLICT, "epochs commit in order");
    }

    @Test
    void commitBeforeFullyStagedIsAConflict() {
      ClusterState s = withVolume(2, "v", 2, DR);
      s = accept(s, closeEpoch(1, 10, List.of(watermark("v", 0, 1), watermark("v", 1, 1))));
      reject(s, commitEpoch(1), RejectCode.CONFLICT, "0 of 2 portions staged");
      s = accept(s, epochStaged(1, List.of(new Portion("v", 1))));
      reject(s, commitEpoch(1), RejectCode.CONFLICT, "1 of 2 portions staged");
    }

    @Test
    void commitTwiceIsAConflictAndCommitOfAnAppliedEpochIsNotFound() {
      ClusterState s = withVolume(2, "v", 2, DR);
      s = accept(s, closeEpoch(1, 10, List.of()));
      s = accept(s, closeEpoch(2, 20, List.of(watermark("v", 1, 1))));
      s = accept(s, commitEpoch(1));
      reject(s, commitEpoch(1), RejectCode.CONFLICT, "already COMMITTED");
      // an epoch without writes is still applied by every secondary, in order
      s = accept(s, epochApplied(1, DR));
      assertThat(s.consistentEpoch()).isEqualTo(1);
      reject(s, commitEpoch(1), RejectCode.NOT_FOUND, "already applied");
      s = accept(s, epochStaged(2, List.of(new Portion("v", 1))));
      s = accept(s, commitEpoch(2));
      reject(s, commitEpoch(2), RejectCode.CONFLICT, "already COMMITTED");
      reject(s, commitEpoch(3), RejectCode.NOT_FOUND, "not closed");
    }

    @Test
    void closingANonOpenEpochIsAConflict() {
      ClusterState s = withVolume(2, "v", 2, DR);
      reject(s, closeEpoch(2, 10, List.of()), RejectCode.CONFLICT, "the open epoch is 1");
      reject(s, closeEpoch(0, 10, List.of()), RejectCode.CONFLICT, "the open epoch is 1");
      ClusterState closed = accept(s, closeEpoch(1, 10, List.of()));
      reject(closed, closeEpoch(1, 10, List.of()), RejectCode.CONFLICT, "is not open");
    }

    @Test
    void malformedWatermarksAreRejected() {
      ClusterState s = withVolume(2, "v", 2, DR);
      reject(s, closeEpoch(1, 10, List.of(watermark("w", 0, 1))), RejectCode.NOT_FOUND,
          "volume w does not exist");
      reject(s, closeEpoch(1, 10, List.of(watermark("v", 2, 1))), RejectCode.INVALID,
          "outside volume v");
      reject(s, closeEpoch(1, 10, List.of(watermark("v", 0, -1))), RejectCode.INVALID,
          "negative");
      reject(s, closeEpoch(1, 10, List.of(watermark("v", 0, 1), watermark("v", 0, 2))),
          RejectCode.INVALID, "two watermarks");
      reject(s, closeEpoch(1, -1, List.of()), RejectCode.INVALID, "closed_at_millis");
    }

    @Test
    void closeEpochWithAStaleNextAssignmentIsRejectedWhole() {
      ClusterState s = withVolume(3, "v", 6, DR);
      CloseEpoch close = closeEpoch(1, 10, List.of(watermark("v", 0, 1))).getCloseEpoch()
          .toBuilder()
          .setNextAssignment(Cmds.reassignMessage(s.assignmentVersion() - 1, List.of(), List.of()))
          .build();
      Command c = Command.newBuilder().setCloseEpoch(close).build();
      reject(s, c, RejectCode.CONFLICT, "stale assignment version");
    }

    @Test
    void closeEpochWithANextAssignmentAppliesIt() {
      ClusterState s = accept(withVolume(3, "v", 6, DR), register("n4"));
      CloseEpoch close = closeEpoch(1, 10, List.of(watermark("v", 0, 1))).getCloseEpoch()
          .toBuilder()
          .setNextAssignment(activate(s, List.of("n4")).getReassignPortions())
          .build();
      ClusterState after = accept(s, Command.newBuilder().setCloseEpoch(close).build());
      assertThat(after.openEpoch()).isEqualTo(2);
      assertThat(after.epochs()).containsOnlyKeys(1L);
      assertThat(after.members().get("n4").state()).isEqualTo(MemberState.ACTIVE);
      assertThat(after.assignmentVersion()).isEqualTo(s.assignmentVersion() + 1);
    }

    @Test
    void stagingErrorsAreRejected() {
      ClusterState s = withVolume(2, "v", 2, DR);
      reject(s, epochStaged(1, List.of(new Portion("v", 0))), RejectCode.NOT_FOUND,
          "epoch 1 is not closed");
      s = accept(s, closeEpoch(1, 10, List.of(watermark("v", 0, 1))));
      reject(s, epochStaged(1, List.of(new Portion("v", 1))), RejectCode.INVALID,
          "has no updates in epoch 1");
      s = accept(s, epochStaged(1, List.of(new Portion("v", 0))));
      s = accept(s, commitEpoch(1));
      reject(s, epochStaged(1, List.of(new Portion("v", 0))), RejectCode.CONFLICT,
          "staging is over");
    }

    @Test
    void appliedErrorsAreRejected() {
      ClusterState s = withVolume(2, "v", 2, DR);
      s = accept(s, closeEpoch(1, 10, List.of(watermark("v", 0, 1))));
      reject(s, epochApplied(1, DR), RejectCode.CONFLICT, "not COMMITTED");
      s = accept(s, epochStaged(1, List.of(new Portion("v", 0))));
      s = accept(s, commitEpoch(1));
      reject(s, epochApplied(1, "other:9000"), RejectCode.INVALID, "has nothing to apply");
    }
  }

  @Nested
  class CtsPeriod {
    @Test
    void aPeriodInRangeIsSetAndChangesNothingElse() {
      ClusterState before = withVolume(2, "v", 4, "");
      assertThat(before.ctsPeriodMillis()).as("not set: every node uses its config").isZero();
      ClusterState s = accept(before, setCtsPeriod(100));
      assertThat(s.ctsPeriodMillis()).isEqualTo(100);
      assertThat(s.withCtsPeriodMillis(0)).isEqualTo(before);
      assertThat(accept(s, setCtsPeriod(10)).ctsPeriodMillis()).isEqualTo(10);
      assertThat(accept(s, setCtsPeriod(60_000)).ctsPeriodMillis()).isEqualTo(60_000);
    }

    @Test
    void zeroResetsToEachNodesConfig() {
      ClusterState s = accept(activeCluster(2), setCtsPeriod(1_000));
      assertThat(accept(s, setCtsPeriod(0)).ctsPeriodMillis()).isZero();
    }

    @Test
    void aPeriodOutOfRangeIsInvalid() {
      ClusterState s = accept(activeCluster(2), setCtsPeriod(500));
      reject(s, setCtsPeriod(9), RejectCode.INVALID,
          "cts period must be between 10 and 60000 ms (or 0: each node's cts.period), got 9 ms");
      reject(s, setCtsPeriod(60_001), RejectCode.INVALID, "got 60001 ms");
      reject(s, setCtsPeriod(-250), RejectCode.INVALID, "got -250 ms");
      reject(s, setCtsPeriod(Long.MAX_VALUE), RejectCode.INVALID, "got " + Long.MAX_VALUE);
    }
  }

  @Nested
  class Copies {
    @Test
    void defaultIsTwoAndARangeIsChecked() {
      assertThat(ClusterState.EMPTY.copies()).isEqualTo(2);
      ClusterState s = activeCluster(3);
      reject(s, setCopies(1), RejectCode.INVALID, "copies must be 2..7, got 1");
      reject(s, setCopies(8), RejectCode.INVALID, "got 8");
      assertThat(accept(s, setCopies(3)).copies()).isEqualTo(3);
    }

    @Test
    void changesOnlyWhileNoVolumeExists() {
      ClusterState s = withVolume(3, "v", 4, "");
      reject(s, setCopies(3), RejectCode.CONFLICT,
          "copies can change only while no volume exists (1 volume(s); copies is 2)");
      assertThat(accept(s, setCopies(2))).as("setting the same value is harmless").isEqualTo(s);
    }

    @Test
    void everyPortionGetsCopiesMinusOneDistinctMirrors() {
      ClusterState s = accept(accept(activeCluster(5), setCopies(3)),
          createVolume("v", 10L * MIB, MIB, ""));
      VolumeAssignment a = s.assignment().get("v");
      for (int r = 0; r < a.regions(); r++) {
        assertThat(a.mirrors(r)).hasSize(2).doesNotContain(a.owner(r)).doesNotHaveDuplicates();
      }
      // 5 members, 10 portions, 20 mirror units: 4 each
      for (int i = 1; i <= 5; i++) {
        String id = "n" + i;
        long mirrors = 0;
        for (int r = 0; r < a.regions(); r++) {
          mirrors += a.isMirror(id, r) ? 1 : 0;
        }
        assertThat(mirrors).as("portions mirrored by %s", id).isEqualTo(4);
      }
    }

    @Test
    void aVolumeNeedsAsManyActiveMembersAsCopies() {
      ClusterState s = accept(activeCluster(2), setCopies(3));
      reject(s, createVolume("v", MIB, MIB, ""), RejectCode.CONFLICT,
          "a volume needs at least 3 active members");
    }

    @Test
    void aFailedOwnerIsReplacedByOneOfItsMirrorsAndTheSurvivorsKeepTwoMirrors() {
      ClusterState s = accept(accept(activeCluster(5), setCopies(3)),
          createVolume("v", 10L * MIB, MIB, ""));
      VolumeAssignment before = s.assignment().get("v");
      ClusterState after = accept(accept(s, markFailed("n1")), markFailed("n2"));
      VolumeAssignment a = after.assignment().get("v");
      for (int r = 0; r < a.regions(); r++) {
        assertThat(a.mirrors(r)).hasSize(2).doesNotContain(a.owner(r), "n1", "n2");
        assertThat(a.owner(r)).isNotIn("n1", "n2");
        if (before.owner(r).equals("n1") && !before.mirrors(r).contains("n2")) {
          assertThat(before.mirrors(r)).as("a mirror of %s takes it over", r)
              .contains(a.owner(r));
        }
      }
    }

    @Test
    void aReassignmentMustCarryEveryMirror() {
      ClusterState s = accept(accept(activeCluster(4), setCopies(3)),
          createVolume("v", 4L * MIB, MIB, ""));
      VolumeAssignment a = s.assignment().get("v");
      String owner = a.owner(0);
      String first = a.mirror(0);
      reject(s, reassign(s.assignmentVersion(), List.of(placement("v", 0, owner, first)), List.of()),
          RejectCode.CONFLICT, "has 1 mirror(s); with copies 3 and 4 active member(s) it needs 2");
      var twice = placement("v", 0, owner, first).toBuilder().addMoreMirrors(first).build();
      reject(s, reassign(s.assignmentVersion(), List.of(twice), List.of()),
          RejectCode.CONFLICT, first + " mirrors it twice");
      String other = List.of("n1", "n2", "n3", "n4").stream()
          .filter(id -> !id.equals(owner) && !id.equals(first)).findFirst().orElseThrow();
      var ok = placement("v", 0, owner, first).toBuilder().addMoreMirrors(other).build();
      ClusterState next = accept(s, reassign(s.assignmentVersion(), List.of(ok), List.of()));
      assertThat(next.assignment().get("v").mirrors(0)).containsExactly(first, other);
    }
  }

  /** A leader's decisions count in its own term only (issue 10: a deposed leader's rounds). */
  @Nested
  class ProposerTerm {
    private Command closeIn(long epoch, long leaderTerm) {
      Command c = closeEpoch(epoch, 10, List.of());
      return c.toBuilder().setCloseEpoch(c.getCloseEpoch().toBuilder().setLeaderTerm(leaderTerm))
          .build();
    }

    @Test
    void aCloseEpochOfADeposedLeaderIsRefusedInTheNewTerm() {
      ClusterState s = withVolume(2, "v", 2, "");
      Outcome late = ClusterTransitions.apply(s, closeIn(1, 4), 5);
      assertThat(late).isInstanceOf(Outcome.Rejected.class);
      assertThat(((Outcome.Rejected) late).code()).isEqualTo(RejectCode.CONFLICT);
      assertThat(((Outcome.Rejected) late).reason()).contains("term 4").contains("deposed");
      assertThat(late.state()).isSameAs(s);
      assertThat(ClusterTransitions.apply(s, closeIn(1, 5), 5))
          .isInstanceOf(Outcome.Accepted.class);
    }

    @Test
    void aMarkFailedOfADeposedLeaderIsRefusedInTheNewTerm() {
      ClusterState s = activeCluster(3);
      Command c = Command.newBuilder().setMarkFailed(dev.ferry.proto.control.MarkFailed
          .newBuilder().setId("n2").setLeaderTerm(7)).build();
      assertThat(ClusterTransitions.apply(s, c, 8)).isInstanceOf(Outcome.Rejected.class);
      assertThat(ClusterTransitions.apply(s, c, 7).state().members().get("n2").state())
          .isEqualTo(MemberState.FAILED);
    }

    @Test
    void entriesWithoutATermAndChecksWithoutAnEntryTermAreNotFenced() {
      ClusterState s = withVolume(2, "v", 2, "");
      // written before the field existed (replayed logs), and validation before proposing
      assertThat(ClusterTransitions.apply(s, closeIn(1, 0), 9)).isInstanceOf(Outcome.Accepted.class);
      assertThat(ClusterTransitions.apply(s, closeIn(1, 4))).isInstanceOf(Outcome.Accepted.class);
    }
  }

  /**
   * A close counts only the Seals of members still in the round (issue 10, safety point 6):
   * one declared failed meanwhile may have sealed after it dropped what it numbered.
   */
  @Nested
  class SealedBy {
    private Command closeSealedBy(long epoch, String id, long incarnation) {
      Command c = closeEpoch(epoch, 10, List.of());
      return c.toBuilder().setCloseEpoch(c.getCloseEpoch().toBuilder().addSealedBy(
          dev.ferry.proto.control.RoundMember.newBuilder().setId(id).setIncarnation(incarnation)))
          .build();
    }

    @Test
    void aCloseSealedByAMemberDeclaredFailedBeforeItIsRefused() {
      ClusterState s = withVolume(3, "v", 2, "");
      long incarnation = s.members().get("n2").incarnation();
      assertThat(ClusterTransitions.apply(s, closeSealedBy(1, "n2", incarnation)))
          .isInstanceOf(Outcome.Accepted.class);
      ClusterState failed = accept(s, markFailed("n2"));
      Outcome late = ClusterTransitions.apply(failed, closeSealedBy(1, "n2", incarnation));
      assertThat(late).isInstanceOf(Outcome.Rejected.class);
      assertThat(((Outcome.Rejected) late).code()).isEqualTo(RejectCode.CONFLICT);
      assertThat(((Outcome.Rejected) late).reason()).contains("n2#" + incarnation);
      assertThat(late.state()).isSameAs(failed);
    }

    @Test
    void aCloseSealedByAnEarlierIncarnationIsRefused() {
      ClusterState s = withVolume(3, "v", 2, "");
      long incarnation = s.members().get("n2").incarnation();
      ClusterState back = accept(Cmds.settleFailures(accept(s, markFailed("n2"))),
          register("n2", addressOf("n2"), incarnation + 1));
      long open = back.openEpoch();
      assertThat(ClusterTransitions.apply(back, closeSealedBy(open, "n2", incarnation)))
          .isInstanceOf(Outcome.Rejected.class);
      assertThat(ClusterTransitions.apply(back, closeSealedBy(open, "n2", incarnation + 1)))
          .isInstanceOf(Outcome.Accepted.class);
    }
  }
}
