package dev.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableSortedMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class AssignmentPolicyTest {
  private static final long R = 1 << 20;

  private static ImmutableSortedMap<String, Volume> volumes(Object... nameAndRegions) {
    TreeMap<String, Volume> out = new TreeMap<>();
    for (int i = 0; i < nameAndRegions.length; i += 2) {
      String name = (String) nameAndRegions[i];
      int regions = (Integer) nameAndRegions[i + 1];
      out.put(name, new Volume(name, regions * R, R, ""));
    }
    return ImmutableSortedMap.copyOfSorted(out);
  }

  private static List<String[]> flat(Map<String, VolumeAssignment> a) {
    List<String[]> out = new ArrayList<>();
    a.values().forEach(va -> {
      for (int r = 0; r < va.regions(); r++) {
        out.add(new String[] {va.owner(r), va.mirror(r)});
      }
    });
    return out;
  }

  private static Map<String, Integer> owners(Map<String, VolumeAssignment> a) {
    Map<String, Integer> n = new TreeMap<>();
    flat(a).forEach(p -> n.merge(p[0], 1, Integer::sum));
    return n;
  }

  private static Map<String, Integer> mirrors(Map<String, VolumeAssignment> a) {
    Map<String, Integer> n = new TreeMap<>();
    flat(a).forEach(p -> n.merge(p[1], 1, Integer::sum));
    return n;
  }

  private static void assertOwnerNeverMirror(Map<String, VolumeAssignment> a) {
    for (String[] p : flat(a)) {
      assertThat(p[0]).isNotNull();
      assertThat(p[1]).isNotNull().isNotEqualTo(p[0]);
    }
  }

  @Test
  void twoMembersAndAnOddPortionCount() {
    var a = AssignmentPolicy.balance(volumes("v", 5), Map.of(), List.of("b", "a"));
    // the extra owner unit goes to the first id; the extra mirror unit to the one owning fewer
    assertThat(owners(a)).containsExactlyInAnyOrderEntriesOf(Map.of("a", 3, "b", 2));
    assertThat(mirrors(a)).containsExactlyInAnyOrderEntriesOf(Map.of("a", 2, "b", 3));
    assertOwnerNeverMirror(a);
  }

  @Test
  void threeMembersAndTenPortionsOverTwoVolumes() {
    var a = AssignmentPolicy.balance(volumes("v", 4, "w", 6), Map.of(), List.of("a", "b", "c"));
    assertThat(a).containsOnlyKeys("v", "w");
    assertThat(a.get("v").regions()).isEqualTo(4);
    assertThat(a.get("w").regions()).isEqualTo(6);
    assertThat(owners(a).values()).containsExactlyInAnyOrder(4, 3, 3);
    assertThat(mirrors(a).values()).containsExactlyInAnyOrder(4, 3, 3);
    assertThat(owners(a).keySet()).containsExactly("a", "b", "c");
    assertOwnerNeverMirror(a);
    // the member owning 4 cannot be the one mirroring 4: ceil goes to those owning fewer
    owners(a).forEach((m, owned) -> {
      if (owned == 4) {
        assertThat(mirrors(a).get(m)).isEqualTo(3);
      }
    });
  }

  @Test
  void aFourthMemberTakesAtMostCeilPOver4OwnersAndOthersKeepTheirs() {
    var vols = volumes("v", 4, "w", 6);
    var three = AssignmentPolicy.balance(vols, Map.of(), List.of("a", "b", "c"));
    var four = AssignmentPolicy.balance(vols, three, List.of("a", "b", "c", "d"));

    List<String[]> before = flat(three);
    List<String[]> after = flat(four);
    int ownersMoved = 0;
    for (int p = 0; p < before.size(); p++) {
      if (!before.get(p)[0].equals(after.get(p)[0])) {
        ownersMoved++;
        assertThat(after.get(p)[0]).as("a moved owner goes to the newcomer").isEqualTo("d");
      }
    }
    assertThat(ownersMoved).isLessThanOrEqualTo(3); // ceil(10 / 4)
    assertThat(owners(four).values()).containsExactlyInAnyOrder(3, 3, 2, 2);
    assertThat(owners(four).get("d")).isEqualTo(ownersMoved);
    assertThat(mirrors(four).get("d")).isBetween(2, 3);
    assertThat(mirrors(four).values()).allSatisfy(n -> assertThat(n).isBetween(2, 3));
    assertOwnerNeverMirror(four);
  }

  @Test
  void aFailurePromotesTheMirrorWhenTheMirrorHasRoom() {
    // 4 members, 8 portions, balanced: everyone owns 2 and mirrors 2
    var vols = volumes("v", 8);
    String[] owner = {"a", "a", "b", "b", "c", "c", "d", "d"};
    String[] mirror = {"b", "c", "a", "d", "d", "b", "c", "a"};
    var current = Map.of("v", VolumeAssignment.of(owner, mirror));

    // d fails: targets over a, b, c are 3, 3, 2 (the extra units go to a and b by id)
    var next = AssignmentPolicy.balance(vols, current, List.of("a", "b", "c"));
    VolumeAssignment v = next.get("v");
    // v/7 was owned by d and mirrored by a, which has room: a becomes the owner
    assertThat(v.owner(7)).isEqualTo("a");
    // v/6 was mirrored by c, which is full at 2: it goes to b, the one with room left
    assertThat(v.owner(6)).isEqualTo("b");
    // nobody else's portions moved
    for (int r = 0; r < 6; r++) {
      assertThat(v.owner(r)).as("owner of v/%s", r).isEqualTo(owner[r]);
    }
    assertThat(owners(next)).containsExactlyInAnyOrderEntriesOf(Map.of("a", 3, "b", 3, "c", 2));
    assertThat(mirrors(next).values()).allSatisfy(n -> assertThat(n).isBetween(2, 3));
    assertOwnerNeverMirror(next);
  }

  /**
   * Why the property test bounds the owner-or-mirror changes of a failure by 2*ceil(P/(n-1)) + n
   * and not 2*ceil(P/n) + n: the policy lays 4 members out as mutual pairs, and when one of a
   * pair fails its partner must gain roles outside the portions it shared with it. With P=40,
   * n=4 the partner b shares 20 portions with a, can hold at most one role in each, and must end
   * with >= 13 owned and >= 13 mirrored: at least 26 portions change, whatever the policy.
   */
  @Test
  void pairedLayoutFailureInherentlyMovesMoreThan2CeilPOverNPlusN() {
    var vols = volumes("v", 40);
    var four = AssignmentPolicy.balance(vols, Map.of(), List.of("a", "b", "c", "d"));
    VolumeAssignment v = four.get("v");
    String[][] pairs = {{"a", "b"}, {"b", "a"}, {"c", "d"}, {"d", "c"}};
    for (int r = 0; r < 40; r++) {
      assertThat(new String[] {v.owner(r), v.mirror(r)}).as("v/%s", r).isEqualTo(pairs[r % 4]);
    }

    var three = AssignmentPolicy.balance(vols, four, List.of("b", "c", "d"));
    int ownerMoves = 0;
    int anyMoves = 0;
    for (int r = 0; r < 40; r++) {
      boolean owner = !v.owner(r).equals(three.get("v").owner(r));
      ownerMoves += owner ? 1 : 0;
      anyMoves += owner || !v.mirror(r).equals(three.get("v").mirror(r)) ? 1 : 0;
    }
    assertThat(ownerMoves).isEqualTo(10); // exactly a's portions
    assertThat(anyMoves)
        .isGreaterThanOrEqualTo(2 * (40 / 3)) // the lower bound above: 26
        .isGreaterThan(2 * 10 + 4) // so 2*ceil(P/n) + n = 24 cannot hold
        .isLessThanOrEqualTo(2 * 14 + 4); // 2*ceil(P/(n-1)) + n = 32 does
    assertThat(owners(three).values()).allSatisfy(k -> assertThat(k).isBetween(13, 14));
    assertThat(mirrors(three).values()).allSatisfy(k -> assertThat(k).isBetween(13, 14));
    assertOwnerNeverMirror(three);
  }

  @Test
  void theResultDoesNotDependOnTheOrderOfTheEligibleMembers() {
    var vols = volumes("v", 7, "w", 5);
    var x = AssignmentPolicy.balance(vols, Map.of(), List.of("c", "a", "b", "d"));
    var y = AssignmentPolicy.balance(vols, Map.of(), List.of("a", "b", "c", "d"));
    assertThat(x).isEqualTo(y);
  }

  @Test
  void oneMemberOwnsEverythingWithoutMirrorsAndNoMemberLeavesAllUnplaced() {
    var vols = volumes("v", 3);
    var one = AssignmentPolicy.balance(vols, Map.of(), List.of("a"));
    assertThat(flat(one)).allSatisfy(p -> assertThat(p).containsExactly("a", null));
    var none = AssignmentPolicy.balance(vols, one, List.of());
    assertThat(flat(none)).allSatisfy(p -> assertThat(p).containsExactly(null, null));
  }

  @Test
  void planIsEmptyForABalancedStateAndNamesOnlyTheChangedPortions() {
    ClusterState s = Cmds.accept(Cmds.activeCluster(3), Cmds.createVolume("v", 9 * R, R));
    assertThat(AssignmentPolicy.plan(s, List.of())).isEmpty();

    ClusterState joining = Cmds.accept(s, Cmds.register("n4"));
    var plan = AssignmentPolicy.plan(joining, List.of("n4"));
    assertThat(plan).isNotEmpty();
    VolumeAssignment now = joining.assignment().get("v");
    for (var p : plan) {
      int r = (int) p.getRegion();
      assertThat(p.getOwner().equals(now.owner(r)) && p.getMirror().equals(now.mirror(r)))
          .as("v/%s is in the plan but unchanged", r)
          .isFalse();
    }
  }
}
