package dev.ferry.control;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Owner and mirrors of every region of one volume. Immutable: the arrays are private copies and
 * every change returns a new instance. A {@code null} owner means "none" (only while no member is
 * active); a region has {@code copies - 1} mirrors, fewer only while too few members are active.
 * The first mirror is the one promoted first when the owner fails.
 */
public final class VolumeAssignment {
  private static final String[] NONE = new String[0];

  private final String[] owners;
  /** per region: its mirrors, in order, no nulls */
  private final String[][] mirrors;

  private VolumeAssignment(String[] owners, String[][] mirrors) {
    this.owners = owners;
    this.mirrors = mirrors;
  }

  /** One mirror per region ({@code null} = none): the {@code copies = 2} shape. */
  public static VolumeAssignment of(String[] owners, String[] mirrors) {
    if (owners.length != mirrors.length) {
      throw new IllegalArgumentException("owners and mirrors differ in length");
    }
    String[][] lists = new String[mirrors.length][];
    for (int r = 0; r < mirrors.length; r++) {
      lists[r] = mirrors[r] == null ? NONE : new String[] {mirrors[r]};
    }
    return new VolumeAssignment(owners.clone(), lists);
  }

  /** Any number of mirrors per region; {@code null} entries are dropped. */
  public static VolumeAssignment ofMirrorLists(String[] owners, String[][] mirrors) {
    if (owners.length != mirrors.length) {
      throw new IllegalArgumentException("owners and mirrors differ in length");
    }
    String[][] lists = new String[mirrors.length][];
    for (int r = 0; r < mirrors.length; r++) {
      lists[r] = compact(mirrors[r]);
    }
    return new VolumeAssignment(owners.clone(), lists);
  }

  public static VolumeAssignment unassigned(int regions) {
    String[][] lists = new String[regions][];
    Arrays.fill(lists, NONE);
    return new VolumeAssignment(new String[regions], lists);
  }

  private static String[] compact(String[] list) {
    return list == null ? NONE : Arrays.stream(list).filter(m -> m != null).toArray(String[]::new);
  }

  public int regions() {
    return owners.length;
  }

  public String owner(int region) {
    return owners[region];
  }

  /** The first mirror of {@code region}, or {@code null} if it has none. */
  public String mirror(int region) {
    return mirrors[region].length == 0 ? null : mirrors[region][0];
  }

  /** Every mirror of {@code region}, in order. */
  public List<String> mirrors(int region) {
    return List.of(mirrors[region]);
  }

  /** Whether {@code member} is one of the mirrors of {@code region}. */
  public boolean isMirror(String member, int region) {
    for (String m : mirrors[region]) {
      if (m.equals(member)) {
        return true;
      }
    }
    return false;
  }

  /** How many portions {@code member} owns plus how many it mirrors. */
  public long placementsOf(String member) {
    long n = 0;
    for (int r = 0; r < regions(); r++) {
      n += (member.equals(owner(r)) ? 1 : 0) + (isMirror(member, r) ? 1 : 0);
    }
    return n;
  }

  /**
   * Returns a copy with the given regions' placements replaced: per region, the owner followed
   * by its mirrors ({@code null} entries dropped).
   */
  public VolumeAssignment with(Map<Integer, String[]> ownerAndMirrorsByRegion) {
    String[] o = owners.clone();
    String[][] m = mirrors.clone();
    ownerAndMirrorsByRegion.forEach(
        (region, placement) -> {
          o[region] = placement[0];
          m[region] = compact(Arrays.copyOfRange(placement, 1, placement.length));
        });
    return new VolumeAssignment(o, m);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof VolumeAssignment a
        && Arrays.equals(owners, a.owners)
        && Arrays.deepEquals(mirrors, a.mirrors);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(owners) + Arrays.deepHashCode(mirrors);
  }
}
