package dev.ferry.control;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import dev.ferry.proto.control.PortionPlacement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeSet;

/**
 * The deterministic portion-placement policy.
 *
 * <p>Guarantees, for {@code n} eligible members, {@code P} portions and {@code copies} copies
 * ({@code k = min(copies - 1, n - 1)} mirrors per portion):
 *
 * <ul>
 *   <li>every portion has an eligible owner (when {@code n >= 1}) and {@code k} eligible mirrors,
 *       all different from each other and from the owner;
 *   <li>each member owns {@code floor(P/n)} or {@code ceil(P/n)} portions and mirrors
 *       {@code floor(kP/n)} or {@code ceil(kP/n)};
 *   <li>movement is minimal for owners: a placement is kept whenever its owner is still eligible
 *       and under its target, and the targets' extra units go to the members that already hold
 *       the most. An orphaned portion is given to one of its mirrors (first one first) when that
 *       mirror has room, since a mirror already holds the portion's un-applied updates.
 * </ul>
 *
 * <p>Pure and deterministic: iteration is in (volume, region) order and ties break by member id.
 */
public final class AssignmentPolicy {
  private AssignmentPolicy() {}

  /** {@link #balance(SortedMap, Map, Collection, int)} with two copies (one mirror). */
  public static ImmutableSortedMap<String, VolumeAssignment> balance(
      SortedMap<String, Volume> volumes,
      Map<String, VolumeAssignment> current,
      Collection<String> eligible) {
    return balance(volumes, current, eligible, 2);
  }

  /**
   * Returns a balanced assignment for {@code volumes} over {@code eligible} with
   * {@code copies - 1} mirrors per portion, keeping as much of {@code current} as the balance
   * allows.
   */
  public static ImmutableSortedMap<String, VolumeAssignment> balance(
      SortedMap<String, Volume> volumes,
      Map<String, VolumeAssignment> current,
      Collection<String> eligible,
      int copies) {
    List<String> members = List.copyOf(new TreeSet<>(eligible));
    int total = 0;
    for (Volume v : volumes.values()) {
      total += v.regionCount();
    }
    String[] owner = new String[total];
    List<List<String>> mirrors = new ArrayList<>(total);
    int base = 0;
    for (Volume v : volumes.values()) {
      VolumeAssignment a = current.get(v.name());
      int regions = v.regionCount();
      for (int r = 0; r < regions; r++) {
        boolean known = a != null && r < a.regions();
        owner[base + r] = known ? a.owner(r) : null;
        mirrors.add(new ArrayList<>(known ? a.mirrors(r) : List.of()));
      }
      base += regions;
    }

    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < members.size(); i++) {
      index.put(members.get(i), i);
    }
    int perPortion = Math.max(0, Math.min(copies - 1, members.size() - 1));
    if (members.isEmpty()) {
      Arrays.fill(owner, null);
    } else {
      placeOwners(owner, mirrors, members, index);
    }
    if (perPortion == 0) {
      mirrors.forEach(List::clear);
    } else {
      placeMirrors(owner, mirrors, members, index, perPortion);
    }

    ImmutableSortedMap.Builder<String, VolumeAssignment> out = ImmutableSortedMap.naturalOrder();
    base = 0;
    for (Volume v : volumes.values()) {
      int regions = v.regionCount();
      String[][] lists = new String[regions][];
      for (int r = 0; r < regions; r++) {
        lists[r] = mirrors.get(base + r).toArray(String[]::new);
      }
      out.put(
          v.name(),
          VolumeAssignment.ofMirrorLists(Arrays.copyOfRange(owner, base, base + regions), lists));
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
        balance(state.volumes(), state.assignment(), eligible, state.copies());
    ImmutableList.Builder<PortionPlacement> changes = ImmutableList.builder();
    target.forEach(
        (volume, proposed) -> {
          VolumeAssignment now = state.assignment().get(volume);
          for (int r = 0; r < proposed.regions(); r++) {
            String o = proposed.owner(r);
            boolean same =
                now != null
                    && r < now.regions()
                    && java.util.Objects.equals(now.owner(r), o)
                    && now.mirrors(r).equals(proposed.mirrors(r));
            if (!same) {
              changes.add(placement(volume, r, proposed));
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

  /** The placement of one region as a {@code ReassignPortions} change carries it. */
  public static PortionPlacement placement(String volume, int region, VolumeAssignment a) {
    List<String> m = a.mirrors(region);
    return PortionPlacement.newBuilder()
        .setVolume(volume)
        .setRegion(region)
        .setOwner(a.owner(region) == null ? "" : a.owner(region))
        .setMirror(m.isEmpty() ? "" : m.get(0))
        .addAllMoreMirrors(m.isEmpty() ? List.of() : m.subList(1, m.size()))
        .build();
  }

  private static void placeOwners(
      String[] owner, List<List<String>> mirrors, List<String> members, Map<String, Integer> index) {
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
      for (String candidate : mirrors.get(p)) {
        Integer m = index.get(candidate);
        if (m != null && kept[m] < target[m]) {
          owner[p] = candidate; // promote a mirror: it already holds the data
          kept[m]++;
          break;
        }
      }
      if (owner[p] == null) {
        rest.add(p);
      }
    }
    for (int p : rest) {
      int best = mostRoom(target, kept, Set.of());
      owner[p] = members.get(best);
      kept[best]++;
    }
  }

  /**
   * Gives every portion {@code perPortion} mirrors, none its owner, no member twice, each
   * member within one of its share. Mirrors still valid and under target are kept.
   */
  private static void placeMirrors(
      String[] owner,
      List<List<String>> mirrors,
      List<String> members,
      Map<String, Integer> index,
      int perPortion) {
    int n = members.size();
    int[] held = new int[n];
    int[] owned = new int[n];
    for (int p = 0; p < owner.length; p++) {
      owned[index.get(owner[p])]++;
      for (String m : mirrors.get(p)) {
        Integer i = index.get(m);
        if (i != null) {
          held[i]++;
        }
      }
    }
    // extra mirror units go first to members owning fewer portions (a member can mirror at most
    // P - owned portions), then to whoever mirrors the most already
    int[] target =
        targets(
            owner.length * perPortion,
            members,
            Comparator.<Integer>comparingInt(i -> owned[i]).thenComparingInt(i -> -held[i]));
    int[] kept = new int[n];
    // keep mirrors walking backwards: owners shed their excess at the end of the order, mirrors
    // at the start, so a member that gains both rarely gains them on the same portion
    for (int p = owner.length - 1; p >= 0; p--) {
      List<String> keep = new ArrayList<>(perPortion);
      for (String m : mirrors.get(p)) {
        Integer i = index.get(m);
        if (i != null && !m.equals(owner[p]) && !keep.contains(m) && keep.size() < perPortion
            && kept[i] < target[i]) {
          kept[i]++;
          keep.add(m);
        }
      }
      mirrors.set(p, keep);
    }
    int cursor = 0; // where the next swap search starts: earlier portions were mostly used up
    for (int p = 0; p < owner.length; p++) {
      List<String> list = mirrors.get(p);
      while (list.size() < perPortion) {
        Set<Integer> taken = takenBy(owner[p], list, index);
        int best = mostRoom(target, kept, taken);
        if (best >= 0) {
          list.add(members.get(best));
          kept[best]++;
          continue;
        }
        // only members already on this portion have room left: swap with a portion where a
        // member not on this one mirrors and the needy member is not involved
        int needy = mostRoom(target, kept, Set.of());
        int swapPortion = -1;
        int swapSlot = -1;
        for (int k = 0; k < owner.length && swapPortion < 0; k++) {
          int q = (cursor + k) % owner.length;
          List<String> other = mirrors.get(q);
          if (q == p || takenBy(owner[q], other, index).contains(needy)) {
            continue;
          }
          for (int j = 0; j < other.size(); j++) {
            if (!taken.contains(index.get(other.get(j)))) {
              swapPortion = q;
              swapSlot = j;
              break;
            }
          }
        }
        if (swapPortion >= 0) {
          cursor = swapPortion + 1;
          list.add(mirrors.get(swapPortion).set(swapSlot, members.get(needy)));
          kept[needy]++;
        } else {
          // not expected with balanced owners; stay correct (distinct members) over balanced
          int fallback = 0;
          while (taken.contains(fallback)) {
            fallback++;
          }
          list.add(members.get(fallback));
          kept[fallback]++;
        }
      }
    }
  }

  /** Indexes of the owner and mirrors of one portion. */
  private static Set<Integer> takenBy(String owner, List<String> mirrors, Map<String, Integer> index) {
    Set<Integer> taken = new HashSet<>();
    taken.add(index.get(owner));
    for (String m : mirrors) {
      taken.add(index.get(m));
    }
    return taken;
  }

  /** The member with the most room under its target, excluding {@code exclude}; -1 if none. */
  private static int mostRoom(int[] target, int[] kept, Set<Integer> exclude) {
    int best = -1;
    for (int i = 0; i < target.length; i++) {
      if (!exclude.contains(i)
          && kept[i] < target[i]
          && (best < 0 || target[i] - kept[i] > target[best] - kept[best])) {
        best = i;
      }
    }
    return best;
  }
}
