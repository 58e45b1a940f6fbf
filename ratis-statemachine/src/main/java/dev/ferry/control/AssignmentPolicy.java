package dev.ferry.control;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import dev.ferry.proto.control.PortionPlacement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeSet;

/**
 * The deterministic portion-placement policy.
 *
 * <p>Guarantees, for {@code n} eligible members and {@code P} portions:
 *
 * <ul>
 *   <li>every portion has an eligible owner (when {@code n >= 1}) and an eligible mirror different
 *       from its owner (when {@code n >= 2});
 *   <li>each member owns {@code floor(P/n)} or {@code ceil(P/n)} portions and mirrors as many;
 *   <li>movement is minimal for owners: a placement is kept whenever its owner is still eligible
 *       and under its target, and the targets' extra units go to the members that already hold
 *       the most. An orphaned portion is given to its mirror when the mirror has room, since the
 *       mirror already holds the portion's un-applied updates.
 * </ul>
 *
 * <p>Pure and deterministic: iteration is in (volume, region) order and ties break by member id.
 */
public final class AssignmentPolicy {
  private AssignmentPolicy() {}

  /**
   * Returns a balanced assignment for {@code volumes} over {@code eligible}, keeping as much of
   * {@code current} as the balance allows.
   */
  public static ImmutableSortedMap<String, VolumeAssignment> balance(
      SortedMap<String, Volume> volumes,
      Map<String, VolumeAssignment> current,
      Collection<String> eligible) {
    List<String> members = List.copyOf(new TreeSet<>(eligible));
    int total = 0;
    for (Volume v : volumes.values()) {
      total += v.regionCount();
    }
    String[] owner = new String[total];
    String[] mirror = new String[total];
    int base = 0;
    for (Volume v : volumes.values()) {
      VolumeAssignment a = current.get(v.name());
      int regions = v.regionCount();
      if (a != null) {
        for (int r = 0; r < Math.min(regions, a.regions()); r++) {
          owner[base + r] = a.owner(r);
          mirror[base + r] = a.mirror(r);
        }
      }
      base += regions;
    }

    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < members.size(); i++) {
      index.put(members.get(i), i);
    }
    if (members.isEmpty()) {
      Arrays.fill(owner, null);
      Arrays.fill(mirror, null);
    } else {
      placeOwners(owner, mirror, members, index);
      if (members.size() == 1) {
        Arrays.fill(mirror, null);
      } else {
        placeMirrors(owner, mirror, members, index);
      }
    }

    ImmutableSortedMap.Builder<String, VolumeAssignment> out = ImmutableSortedMap.naturalOrder();
    base = 0;
    for (Volume v : volumes.values()) {
      int regions = v.regionCount();
      out.put(
          v.name(),
          VolumeAssignment.of(
              Arrays.copyOfRange(owner, base, base + regions),
              Arrays.copyOfRange(mirror, base, base + regions)));
      base += regions;
    }
    return out.build();
  }

  /**
   * The placements that differ between the current assignment and a balanced one in which
   * {@code alsoEligible} (JOINING members about to be activated) take part: the delta a
   * {@code ReassignPortions} command carries. Empty when the assignment is already balanced.
   */
  public static ImmutableList<PortionPlacement> plan(
      ClusterState state, Collection<String> alsoEligible) {
    List<String> eligible = new ArrayList<>(state.activeMemberIds());
    eligible.addAll(alsoEligible);
    ImmutableSortedMap<String, VolumeAssignment> target =
        balance(state.volumes(), state.assignment(), eligible);
    ImmutableList.Builder<PortionPlacement> changes = ImmutableList.builder();
    target.forEach(
        (volume, proposed) -> {
          VolumeAssignment now = state.assignment().get(volume);
          for (int r = 0; r < proposed.regions(); r++) {
            String o = proposed.owner(r);
            String m = proposed.mirror(r);
            boolean same =
                now != null
                    && r < now.regions()
                    && java.util.Objects.equals(now.owner(r), o)
                    && java.util.Objects.equals(now.mirror(r), m);
            if (!same) {
              changes.add(
                  PortionPlacement.newBuilder()
                      .setVolume(volume)
                      .setRegion(r)
                      .setOwner(o == null ? "" : o)
                      .setMirror(m == null ? "" : m)
                      .build());
            }
          }
        });
    return changes.build();
  }

  private static int[] targets(int total, List<String> members, Comparator<Integer> ceilFirst) {
    int n = members.size();
    int[] target = new int[n];
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
      target[i] = total / n;
    }
    Arrays.sort(order, ceilFirst.thenComparingInt(i -> i));
    for (int k = 0; k < total % n; k++) {
      target[order[k]]++;
    }
    return target;
  }

  private static void placeOwners(
      String[] owner, String[] mirror, List<String> members, Map<String, Integer> index) {
    int n = members.size();
    int[] held = new int[n];
    for (String o : owner) {
      Integer i = o == null ? null : index.get(o);
      if (i != null) {
        held[i]++;
      }
    }
    // the extra units go to whoever holds the most already: fewer moves
    int[] target = targets(owner.length, members, Comparator.comparingInt(i -> -held[i]));
    int[] kept = new int[n];
    List<Integer> orphans = new ArrayList<>();
    for (int p = 0; p < owner.length; p++) {
      Integer i = owner[p] == null ? null : index.get(owner[p]);
      if (i != null && kept[i] < target[i]) {
        kept[i]++;
      } else {
        owner[p] = null;
        orphans.add(p);
      }
    }
    List<Integer> rest = new ArrayList<>();
    for (int p : orphans) {
      Integer m = mirror[p] == null ? null : index.get(mirror[p]);
      if (m != null && kept[m] < target[m]) {
        owner[p] = members.get(m); // promote the mirror: it already holds the data
        kept[m]++;
      } else {
        rest.add(p);
      }
    }
    for (int p : rest) {
      int best = mostRoom(target, kept, -1);
      owner[p] = members.get(best);
      kept[best]++;
    }
  }

  private static void placeMirrors(
      String[] owner, String[] mirror, List<String> members, Map<String, Integer> index) {
    int n = members.size();
    int[] held = new int[n];
    int[] owned = new int[n];
    for (int p = 0; p < owner.length; p++) {
      owned[index.get(owner[p])]++;
      Integer i = mirror[p] == null ? null : index.get(mirror[p]);
      if (i != null) {
        held[i]++;
      }
    }
    // extra mirror units go first to members owning fewer portions (a member can mirror at most
    // P - owned portions), then to whoever mirrors the most already
    int[] target =
        targets(
            owner.length,
            members,
            Comparator.<Integer>comparingInt(i -> owned[i]).thenComparingInt(i -> -held[i]));
    int[] kept = new int[n];
    List<Integer> orphans = new ArrayList<>();
    // keep mirrors walking backwards: owners shed their excess at the end of the order, mirrors
    // at the start, so a member that gains both rarely gains them on the same portion
    for (int p = owner.length - 1; p >= 0; p--) {
      Integer i = mirror[p] == null ? null : index.get(mirror[p]);
      if (i != null && !mirror[p].equals(owner[p]) && kept[i] < target[i]) {
        kept[i]++;
      } else {
        mirror[p] = null;
        orphans.add(p);
      }
    }
    java.util.Collections.reverse(orphans);
    int cursor = 0; // where the next swap search starts: earlier portions were mostly used up
    for (int p : orphans) {
      int ownerIndex = index.get(owner[p]);
      int best = mostRoom(target, kept, ownerIndex);
      if (best >= 0) {
        mirror[p] = members.get(best);
        kept[best]++;
        continue;
      }
      // only the owner itself has room left: swap with a portion that involves neither
      int needy = mostRoom(target, kept, -1);
      int swap = -1;
      for (int k = 0; k < owner.length && swap < 0; k++) {
        int q = (cursor + k) % owner.length;
        if (q != p
            && mirror[q] != null
            && !mirror[q].equals(owner[p])
            && !owner[q].equals(members.get(needy))) {
          swap = q;
        }
      }
      cursor = swap + 1;
      if (swap >= 0) {
        mirror[p] = mirror[swap];
        mirror[swap] = members.get(needy);
        kept[needy]++;
      } else {
        // cannot happen with balanced owners and n >= 2; stay correct (owner != mirror) anyway
        int fallback = ownerIndex == 0 ? 1 : 0;
        mirror[p] = members.get(fallback);
        kept[fallback]++;
      }
    }
  }

  /** The member with the most room under its target, excluding {@code exclude}; -1 if none. */
  private static int mostRoom(int[] target, int[] kept, int exclude) {
    int best = -1;
    for (int i = 0; i < target.length; i++) {
      if (i != exclude
          && kept[i] < target[i]
          && (best < 0 || target[i] - kept[i] > target[best] - kept[best])) {
        best = i;
      }
    }
    return best;
  }
}
