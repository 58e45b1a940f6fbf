package dev.ferry.control;

import static dev.ferry.control.Cmds.accept;
import static dev.ferry.control.Cmds.activeCluster;
import static dev.ferry.control.Cmds.closeEpoch;
import static dev.ferry.control.Cmds.commitEpoch;
import static dev.ferry.control.Cmds.createVolume;
import static dev.ferry.control.Cmds.deleteVolume;
import static dev.ferry.control.Cmds.detachSecondary;
import static dev.ferry.control.Cmds.epochApplied;
import static dev.ferry.control.Cmds.epochStaged;
import static dev.ferry.control.Cmds.watermark;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.RejectCode;
import dev.ferry.proto.control.Watermark;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/**
 * Secondaries that are down or gone (issue 10, point 5): a secondary that no volume is shipped
 * to any more (its last volume deleted, or detached) holds no epoch back.
 */
class SecondaryGroupTest {
  private static final long MIB = 1L << 20;
  private static final String DR = "dr.example:9000";
  private static final String DEAD = "nobody.example:9000";

  private static Outcome.Rejected reject(ClusterState s, Command c, RejectCode code, String text) {
    Outcome o = ClusterTransitions.apply(s, c);
    assertThat(o).as("outcome of %s", c).isInstanceOf(Outcome.Rejected.class);
    Outcome.Rejected r = (Outcome.Rejected) o;
    assertThat(r.code()).as("reject code; reason: %s", r.reason()).isEqualTo(code);
    assertThat(r.reason()).contains(text);
    assertThat(r.state()).isSameAs(s);
    return r;
  }

  /** Volume v (2 regions) replicated to DR, volume x (2 regions) to DEAD. */
  private static ClusterState twoSecondaries() {
    ClusterState s = accept(activeCluster(2), createVolume("v", 2 * MIB, MIB, DR));
    return accept(s, createVolume("x", 2 * MIB, MIB, DEAD));
  }

  /** Stages, commits and applies at DR whatever DR can do; DEAD never answers. */
  private static ClusterState drWorks(ClusterState s) {
    for (EpochRecord e : List.copyOf(s.epochs().values())) {
      e = s.epochs().get(e.number());
      if (e == null) {
        continue;
      }
      List<Portion> toStage = new ArrayList<>();
      for (Portion p : e.watermarks().keySet()) {
        Volume v = s.volumes().get(p.volume());
        if (!e.staged().contains(p) && v.shipped() && v.secondary().equals(DR)) {
          toStage.add(p);
        }
      }
      if (!toStage.isEmpty()) {
        s = accept(s, epochStaged(e.number(), toStage));
        e = s.epochs().get(e.number());
      }
      if (e.state() == EpochState.STAGED) {
        s = accept(s, commitEpoch(e.number()));
        e = s.epochs().get(e.number());
      }
      if (e != null && e.state() == EpochState.COMMITTED && e.secondaries().contains(DR)
          && !e.appliedBy().contains(DR)) {
        s = accept(s, epochApplied(e.number(), DR));
      }
      if (e == null || s.epochs().containsKey(e.number())) {
        if (e != null && s.epochs().get(e.number()).state() != EpochState.COMMITTED) {
          break; // epochs commit in order
        }
      }
    }
    return s;
  }

  @Test
  void deletingTheLastVolumeOfASecondaryRemovesItFromTheEpochsStillToApply() {
    ClusterState s = twoSecondaries();
    s = accept(s, closeEpoch(1, 10, List.of(watermark("v", 0, 1))));
    s = accept(s, closeEpoch(2, 20, List.of()));
    assertThat(s.epochs().get(1L).secondaries()).containsExactly(DR, DEAD);
    s = drWorks(s);
    assertThat(s.consistentEpoch()).as("DEAD never applies").isZero();
    assertThat(s.consistentPointWaitsFor()).containsExactly(DEAD);

    ClusterState deleted = accept(s, deleteVolume("x"));
    assertThat(deleted.epochs()).as("nothing waits for DEAD any more").isEmpty();
    assertThat(deleted.consistentEpoch()).isEqualTo(2);
    assertThat(deleted.consistentEpochClosedAtMillis()).isEqualTo(20);
    assertThat(deleted.consistentPointWaitsFor()).isEmpty();
  }

  @Test
  void deletingOneOfTwoVolumesOfASecondaryKeepsItInTheEpochs() {
    ClusterState s = accept(twoSecondaries(), createVolume("y", MIB, MIB, DEAD));
    s = accept(s, closeEpoch(1, 10, List.of()));
    s = drWorks(accept(s, deleteVolume("x")));
    assertThat(s.epochs().get(1L).secondaries()).containsExactly(DR, DEAD);
    assertThat(s.consistentEpoch()).isZero();
  }

  @Test
  void detachingASecondaryLetsTheConsistentPointAdvance() {
    ClusterState s = twoSecondaries();
    // x was written in epoch 1: its portion can never be staged at DEAD
    s = accept(s, closeEpoch(1, 10, List.of(watermark("v", 0, 1), watermark("x", 1, 2))));
    s = accept(s, closeEpoch(2, 20, List.of(watermark("x", 0, 1))));
    s = drWorks(s);
    assertThat(s.consistentEpoch()).isZero();
    assertThat(s.consistentPointWaitsFor()).containsExactly(DEAD);
    reject(s, deleteVolume("x"), RejectCode.CONFLICT, "not applied yet");

    ClusterState detached = accept(s, detachSecondary(DEAD));
    Volume x = detached.volumes().get("x");
    assertThat(x.secondary()).as("the volume keeps its secondary").isEqualTo(DEAD);
    assertThat(x.detached()).isTrue();
    assertThat(x.detachedAppliedEpoch()).isZero();
    assertThat(detached.volumes().get("v").detached()).isFalse();
    for (EpochRecord e : detached.epochs().values()) {
      assertThat(e.secondaries()).containsExactly(DR);
    }
    assertThat(detached.epochs().get(1L).staged())
        .as("x's portion counts as staged: nothing goes to DEAD").contains(new Portion("x", 1));
    assertThat(detached.epochs().get(2L).state()).isEqualTo(EpochState.STAGED);
    detached = drWorks(detached);
    assertThat(detached.epochs()).isEmpty();
    assertThat(detached.consistentEpoch()).isEqualTo(2);

    // later epochs: x's portions are staged at close, DEAD is not asked to apply
    ClusterState later = accept(detached, closeEpoch(3, 30, List.of(watermark("x", 0, 4))));
    assertThat(later.epochs().get(3L).secondaries()).containsExactly(DR);
    assertThat(later.epochs().get(3L).state()).isEqualTo(EpochState.STAGED);
    assertThat(later.lastAppliedBy(DEAD)).isZero();
    assertThat(later.lastAppliedBy(DR)).isEqualTo(2);

    reject(later, detachSecondary(DEAD), RejectCode.CONFLICT, "already detached");
    reject(later, detachSecondary("other.example:1"), RejectCode.NOT_FOUND,
        "no volume is replicated to secondary other.example:1");
    reject(later, detachSecondary("no port"), RejectCode.INVALID, "host:port");
    reject(later, createVolume("z", MIB, MIB, DEAD), RejectCode.CONFLICT,
        "secondary " + DEAD + " is detached");
    // once its detached volumes are gone, the address is free again
    ClusterState gone = accept(drWorks(later), deleteVolume("x"));
    accept(gone, createVolume("z", MIB, MIB, DEAD));
  }

  @Test
  void detachingASecondaryCompletesACommittedEpochItHasNotApplied() {
    ClusterState s = twoSecondaries();
    s = drWorks(accept(s, closeEpoch(1, 10, List.of(watermark("v", 1, 1)))));
    s = drWorks(accept(s, closeEpoch(2, 20, List.of())));
    assertThat(s.epochs().get(1L).state()).isEqualTo(EpochState.COMMITTED);
    assertThat(s.epochs().get(1L).appliedBy()).containsExactly(DR);
    assertThat(s.lastAppliedBy(DR)).isEqualTo(2);
    assertThat(s.lastAppliedBy(DEAD)).isZero();
    ClusterState detached = accept(s, detachSecondary(DEAD));
    assertThat(detached.epochs()).isEmpty();
    assertThat(detached.consistentEpoch()).isEqualTo(2);
  }

  @Test
  void theDetachedAppliedEpochIsWhatTheSecondaryHadApplied() {
    ClusterState s = twoSecondaries();
    s = accept(s, closeEpoch(1, 10, List.of()));
    s = accept(s, commitEpoch(1));
    s = accept(s, epochApplied(1, DEAD));
    s = accept(s, epochApplied(1, DR));
    s = accept(s, closeEpoch(2, 20, List.of()));
    s = accept(s, commitEpoch(2));
    s = accept(s, epochApplied(2, DEAD)); // DEAD applied 2, then died; DR is behind
    assertThat(s.consistentPointWaitsFor()).containsExactly(DR);
    ClusterState detached = accept(s, detachSecondary(DEAD));
    assertThat(detached.volumes().get("x").detachedAppliedEpoch()).isEqualTo(2);
    assertThat(detached.lastAppliedBy(DEAD)).isEqualTo(2);
  }

  @Test
  void aDetachedVolumeRoundTripsThroughCodecAndSnapshot() throws IOException {
    ClusterState s = twoSecondaries();
    s = accept(s, closeEpoch(1, 10, List.of(watermark("x", 0, 1))));
    s = accept(s, epochStaged(1, List.of(new Portion("x", 0))));
    s = accept(s, commitEpoch(1));
    s = accept(s, epochApplied(1, DEAD));
    s = accept(s, closeEpoch(2, 20, List.of(watermark("x", 1, 1), watermark("v", 0, 1))));
    ClusterState detached = accept(s, detachSecondary(DEAD));
    assertThat(detached.volumes().get("x").detachedAppliedEpoch()).isEqualTo(1);
    ClusterStatePropertiesTest.checkRoundTrips(detached, 42);
    assertThat(ClusterStateCodec.toProto(detached).getVolumesList())
        .anySatisfy(v -> {
          assertThat(v.getName()).isEqualTo("x");
          assertThat(v.getDetached()).isTrue();
          assertThat(v.getDetachedAppliedEpoch()).isEqualTo(1);
        });
  }

  /**
   * Random epochs, writes, deletes, creates and detaches over two secondaries, one of which
   * never answers. After each step: no epoch waits for a secondary no shipped volume names, and
   * once every volume on the dead secondary is deleted or detached, the working one brings the
   * consistent point up to the last closed epoch.
   */
  @Property(tries = 300)
  void aSecondaryWithoutShippedVolumesNeverHoldsTheConsistentPointBack(
      @ForAll @Size(min = 1, max = 40) List<@IntRange(min = 0, max = 9) Integer> ops)
      throws IOException {
    ClusterState s = activeCluster(3);
    int created = 0;
    long index = 0;
    for (int op : ops) {
      switch (op) {
        case 0, 1 -> { // create a volume on DR or DEAD
          String name = "vol" + created++;
          Outcome o = ClusterTransitions.apply(s,
              createVolume(name, 2 * MIB, MIB, op == 0 ? DR : DEAD));
          s = o.state();
        }
        case 2, 3, 4 -> { // close the open epoch with writes to some volumes
          List<Watermark> marks = new ArrayList<>();
          int k = 0;
          for (Volume v : s.volumes().values()) {
            if ((k++ + op + s.openEpoch()) % 2 == 0) {
              marks.add(watermark(v.name(), (int) (s.openEpoch() % 2), 1));
            }
          }
          s = accept(s, closeEpoch(s.openEpoch(), s.openEpoch() * 10, marks));
        }
        case 5, 6 -> { // delete a volume (refused while it has updates not applied)
          if (!s.volumes().isEmpty()) {
            List<String> names = List.copyOf(s.volumes().keySet());
            s = ClusterTransitions.apply(s, deleteVolume(names.get(op % names.size()))).state();
          }
        }
        case 7 -> s = ClusterTransitions.apply(s, detachSecondary(DEAD)).state();
        default -> { }
      }
      s = drWorks(s);
      Set<String> shipped = new TreeSet<>();
      s.volumes().values().stream().filter(Volume::shipped)
          .forEach(v -> shipped.add(v.secondary()));
      for (EpochRecord e : s.epochs().values()) {
        assertThat(shipped).as("secondaries of epoch %s", e.number())
            .containsAll(e.secondaries());
      }
      if (!shipped.contains(DEAD)) {
        assertThat(s.epochs()).as("epochs still to apply with DEAD out of the group").isEmpty();
        assertThat(s.consistentEpoch()).isEqualTo(s.openEpoch() - 1);
      }
      ClusterStatePropertiesTest.checkRoundTrips(s, ++index);
    }
  }
}
