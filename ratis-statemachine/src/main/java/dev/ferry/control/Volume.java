package dev.ferry.control;

import java.util.Objects;

/**
 * A named, sized block address space cut into regions; each region is one portion. Immutable.
 *
 * @param secondary host:port of its secondary site ("" = none)
 * @param detached its secondary was taken out of the consistency group ({@code DetachSecondary}):
 *     nothing of it is shipped there; its image there needs a full resync
 * @param detachedAppliedEpoch when detached, the last epoch its secondary had applied (0 = none)
 */
public record Volume(String name, long sizeBytes, long regionSizeBytes, String secondary,
    boolean detached, long detachedAppliedEpoch) {
  public Volume {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(secondary, "secondary");
  }

  /** An attached volume (or one without a secondary). */
  public Volume(String name, long sizeBytes, long regionSizeBytes, String secondary) {
    this(name, sizeBytes, regionSizeBytes, secondary, false, 0);
  }

  /** Number of regions (portions): the last one may be shorter than {@link #regionSizeBytes}. */
  public int regionCount() {
    // rounds up without computing sizeBytes + regionSizeBytes - 1, which can overflow
    return Math.toIntExact(
        sizeBytes / regionSizeBytes + (sizeBytes % regionSizeBytes == 0 ? 0 : 1));
  }

  /** True when its updates are shipped to a secondary: it has one and it is not detached. */
  public boolean shipped() {
    return !secondary.isEmpty() && !detached;
  }

  Volume detach(long appliedEpoch) {
    return new Volume(name, sizeBytes, regionSizeBytes, secondary, true, appliedEpoch);
  }
}
