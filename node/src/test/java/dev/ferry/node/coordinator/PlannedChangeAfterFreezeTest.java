package dev.ferry.node.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.PortionRef;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.peer.FreezeReply;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The coordinator's half of "no portion has two owners in one epoch": a planned move rides on
 * the close only if no member answered Freeze that it numbered a moving portion after it.
 */
class PlannedChangeAfterFreezeTest {
  private static final ReassignPortions MOVE = ReassignPortions.newBuilder().setBaseVersion(7)
      .addChanges(PortionPlacement.newBuilder().setVolume("v").setRegion(3).setOwner("n3")
          .setMirror("n1"))
      .build();

  @Test
  void theChangeRidesOnTheCloseWhenNoMemberNumberedAMovingPortionAhead() {
    List<FreezeReply> replies = List.of(FreezeReply.getDefaultInstance(),
        FreezeReply.getDefaultInstance());
    assertThat(BarrierPlan.changeAfterFreeze(MOVE, replies)).isEqualTo(MOVE);
  }

  @Test
  void theCloseGoesWithoutTheChangeWhenAnOwnerNumberedAMovingPortionInTheNextEpoch() {
    List<FreezeReply> replies = List.of(FreezeReply.getDefaultInstance(),
        FreezeReply.newBuilder().addNumberedAfter(PortionRef.newBuilder().setVolume("v")
            .setRegion(3)).build());
    assertThat(BarrierPlan.changeAfterFreeze(MOVE, replies)).isNull();
  }

  @Test
  void withoutAPlannedChangeThereIsNothingToDrop() {
    List<FreezeReply> replies = List.of(FreezeReply.newBuilder().addNumberedAfter(
        PortionRef.newBuilder().setVolume("v").setRegion(3)).build());
    assertThat(BarrierPlan.changeAfterFreeze(null, replies)).isNull();
  }
}
