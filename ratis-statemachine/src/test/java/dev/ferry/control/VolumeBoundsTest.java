package dev.ferry.control;

import static dev.ferry.control.Cmds.accept;
import static dev.ferry.control.Cmds.activeCluster;
import static dev.ferry.control.Cmds.createVolume;
import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CreateVolume;
import dev.ferry.proto.control.RejectCode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Combinators;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, point 9: a minimum region size and a maximum number of portions per volume and per
 * cluster, decided by the state machine from the limits in the command (0 = the defaults), with
 * refusals that name the limit and the value.
 */
class VolumeBoundsTest {
  private static final long KIB = 1 << 10;
  private static final long MIB = 1 << 20;
  private static final long GIB = 1 << 30;

  private static Command create(String name, long size, long region, long minRegion,
      long perVolume, long perCluster) {
    return Command.newBuilder().setCreateVolume(CreateVolume.newBuilder().setName(name)
        .setSizeBytes(size).setRegionSizeBytes(region).setMinRegionSizeBytes(minRegion)
        .setMaxPortionsPerVolume(perVolume).setMaxPortionsPerCluster(perCluster)).build();
  }

  private static void rejected(ClusterState s, Command c, String reason) {
    Outcome o = ClusterTransitions.apply(s, c);
    assertThat(o).isInstanceOf(Outcome.Rejected.class);
    Outcome.Rejected r = (Outcome.Rejected) o;
    assertThat(r.code()).isEqualTo(RejectCode.INVALID);
    assertThat(r.reason()).isEqualTo(reason);
    assertThat(r.state()).isSameAs(s);
  }

  @Test
  void aOneByteRegionIsRefusedNamingTheMinimum() {
    // the volume of issue 10: 1 MiB cut into 1,048,576 one-byte portions
    rejected(activeCluster(2), createVolume("v", MIB, 1),
        "region size 1 B is below the minimum 1 MiB (volume.min.region.size)");
    rejected(activeCluster(2), create("v", MIB, 64 * KIB, 256 * KIB, 0, 0),
        "region size 64 KiB is below the minimum 256 KiB (volume.min.region.size)");
  }

  @Test
  void theMinimumRegionIsTheDefaultAndANodeMayLowerIt() {
    ClusterState s = accept(activeCluster(2), createVolume("v", 4 * MIB, MIB));
    assertThat(s.volumes().get("v").regionCount()).isEqualTo(4);
    ClusterState small = accept(activeCluster(2), create("v", MIB, 64 * KIB, 64 * KIB, 0, 0));
    assertThat(small.volumes().get("v").regionCount()).isEqualTo(16);
    // a volume smaller than the minimum region is one region of its own size
    assertThat(accept(activeCluster(2), createVolume("v", 5000, 5000)).portionCount())
        .isEqualTo(1);
  }

  @Test
  void tooManyPortionsInOneVolumeIsRefusedNamingTheMaximum() {
    long limit = ControlLimits.DEFAULT_MAX_PORTIONS_PER_VOLUME;
    accept(activeCluster(2), createVolume("v", limit * MIB, MIB));
    rejected(activeCluster(2), createVolume("v", (limit + 1) * MIB, MIB),
        "volume would have 65537 portions, more than the maximum 65536 per volume"
            + " (volume.max.portions); use a region size of at least 2 MiB");
    rejected(activeCluster(2), create("v", 64 * GIB, MIB, 0, 1000, 0),
        "volume would have 65536 portions, more than the maximum 1000 per volume"
            + " (volume.max.portions); use a region size of at least 66 MiB");
  }

  @Test
  void theClusterTotalIsBoundedAcrossVolumes() {
    ClusterState s = accept(activeCluster(2), create("a", 600 * MIB, MIB, 0, 0, 1000));
    s = accept(s, create("b", 400 * MIB, MIB, 0, 0, 1000)); // exactly the maximum
    rejected(s, create("c", MIB, MIB, 0, 0, 1000),
        "volume would take the cluster to 1001 portions (1000 now + 1), more than the maximum"
            + " 1000 (cluster.max.portions)");
    // deleting a volume gives its portions back
    ClusterState afterDelete = accept(s, Cmds.deleteVolume("a"));
    accept(afterDelete, create("c", 600 * MIB, MIB, 0, 0, 1000));
  }

  @Test
  void theDefaultClusterMaximumHolds() {
    long perVolume = ControlLimits.DEFAULT_MAX_PORTIONS_PER_VOLUME;
    ClusterState s = activeCluster(2);
    for (int i = 0; i < ControlLimits.MAX_PORTIONS_PER_CLUSTER / perVolume; i++) {
      s = accept(s, createVolume("v" + i, perVolume * MIB, MIB));
    }
    rejected(s, createVolume("one-more", MIB, MIB),
        "volume would take the cluster to 262145 portions (262144 now + 1), more than the"
            + " maximum 262144 (cluster.max.portions)");
  }

  @Test
  void limitsPastTheCeilingsAreRefused() {
    rejected(activeCluster(2), create("v", MIB, MIB, 0, 0, ControlLimits.MAX_PORTIONS_PER_CLUSTER + 1L),
        "cluster.max.portions 262145 is outside 1..262144");
    rejected(activeCluster(2), create("v", MIB, MIB, 0, ControlLimits.MAX_PORTIONS_PER_CLUSTER + 1L, 0),
        "volume.max.portions 262145 is outside 1..262144");
    rejected(activeCluster(2), create("v", MIB, MIB, 512, 0, 0),
        "volume.min.region.size 512 is outside 4096..9223372036854775807");
    rejected(activeCluster(2), create("v", MIB, MIB, 0, -1, 0),
        "volume.max.portions -1 is outside 1..262144");
  }

  // ---- property: accepted exactly when inside every bound ----

  record Case(long existingPortions, long size, long region, long minRegion, long perVolume,
      long perCluster) {}

  @Provide
  Arbitrary<Case> cases() {
    Arbitrary<Long> existing = Arbitraries.longs().between(0, 3000);
    Arbitrary<Long> regions = Arbitraries.of(1L, 4 * KIB, 64 * KIB, 512 * KIB, MIB, 4 * MIB);
    Arbitrary<Long> counts = Arbitraries.longs().between(1, 5000);
    Arbitrary<Long> slack = Arbitraries.longs().between(0, 4 * MIB);
    Arbitrary<Long> minRegions = Arbitraries.of(0L, 4 * KIB, 64 * KIB, MIB, 2 * MIB);
    Arbitrary<Long> perVolume = Arbitraries.of(0L, 1L, 100L, 2000L, 4000L);
    Arbitrary<Long> perCluster = Arbitraries.of(0L, 50L, 3000L, 6000L);
    return Combinators.combine(existing, regions, counts, slack, minRegions, perVolume,
        perCluster).as((e, r, n, sl, mr, pv, pc) ->
            new Case(e, Math.max(1, n * r - sl % r), r, mr, pv, pc));
  }

  @Property(tries = 300)
  void aVolumeIsAcceptedExactlyWhenInsideEveryBound(@ForAll("cases") Case c) {
    ClusterState s = activeCluster(2);
    if (c.existingPortions() > 0) { // one volume of that many 1 MiB portions
      s = accept(s, create("old", c.existingPortions() * MIB, MIB, 0, 0, 0));
    }
    long minRegion = c.minRegion() == 0 ? ControlLimits.DEFAULT_MIN_REGION_SIZE : c.minRegion();
    long perVolume = c.perVolume() == 0 ? ControlLimits.DEFAULT_MAX_PORTIONS_PER_VOLUME
        : c.perVolume();
    long perCluster = c.perCluster() == 0 ? ControlLimits.MAX_PORTIONS_PER_CLUSTER
        : c.perCluster();
    long portions = (c.size() + c.region() - 1) / c.region();
    boolean fits = c.region() <= c.size()
        && (c.region() >= minRegion || c.region() == c.size())
        && portions <= perVolume
        && c.existingPortions() + portions <= perCluster;

    Outcome o = ClusterTransitions.apply(s, create("v", c.size(), c.region(), c.minRegion(),
        c.perVolume(), c.perCluster()));
    if (fits) {
      assertThat(o).as("%s", c).isInstanceOf(Outcome.Accepted.class);
      assertThat(o.state().portionCount()).isEqualTo(c.existingPortions() + portions);
    } else {
      assertThat(o).as("%s", c).isInstanceOf(Outcome.Rejected.class);
      assertThat(((Outcome.Rejected) o).code()).isEqualTo(RejectCode.INVALID);
      assertThat(o.state()).isSameAs(s);
    }
  }
}
