package dev.ferry.control;

import java.util.Arrays;
import java.util.Map;

/**
 * Owner and mirror of every region of one volume. Immutable: the arrays are private copies and
 * every change returns a new instance. A {@code null} entry means "none" (only while there are
 * too few active members).
 */
public final class VolumeAssignment {
  private final String[] owners;
  private final String[] mirrors;

  private VolumeAssignment(String[] owners, String[] mirrors) {
    this.owners = owners;
    this.mirrors = mirrors;
  }

  public static VolumeAssignment of(String[] owners, String[] mirrors) {
    if (owners.length != mirrors.length) {
      throw new IllegalArgumentException("owners and mirrors differ in length");
    }
    return new VolumeAssignment(owners.clone(), mirrors.clone());
  }

  public static VolumeAssignment unassigned(int regions) {
    return new VolumeAssignment(new String[regions], new String[regions]);
  }

  public int regions() {
    return owners.length;
  }

  public String owner(int region) {
    return owners[region];
  }

  public String mirror(int region) {
    return mirrors[region];
  }

  /** Returns a copy with the given regions' placements replaced. */
  /** How many portions {@code member} owns plus how many it mirrors. */
  public long placementsOf(String member) {
    long n = 0;
    for (int r = 0; r < regions(); r++) {
      n += (member.equals(owner(r)) ? 1 : 0) + (member.equals(mirror(r)) ? 1 : 0);
    }
    return n;
  }

  public VolumeAssignment with(Map<Integer, String[]> ownerAndMirrorByRegion) {
    String[] o = owners.clone();
    String[] m = mirrors.clone();
    ownerAndMirrorByRegion.forEach(
        (region, pair) -> {
          o[region] = pair[0];
          m[region] = pair[1];
        });
    return new VolumeAssignment(o, m);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof VolumeAssignment a
        && Arrays.equals(owners, a.owners)
        && Arrays.equals(mirrors, a.mirrors);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(owners) + Arrays.hashCode(mirrors);
  }
}
