package dev.ferry.control;

import java.util.Objects;

/** A named, sized block address space cut into regions; each region is one portion. Immutable. */
public record Volume(String name, long sizeBytes, long regionSizeBytes, String secondary) {
  public Volume {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(secondary, "secondary");
  }

  /** Number of regions (portions): the last one may be shorter than {@link #regionSizeBytes}. */
  public int regionCount() {
    // rounds up without computing sizeBytes + regionSizeBytes - 1, which can overflow
    return Math.toIntExact(
        sizeBytes / regionSizeBytes + (sizeBytes % regionSizeBytes == 0 ? 0 : 1));
  }
}
