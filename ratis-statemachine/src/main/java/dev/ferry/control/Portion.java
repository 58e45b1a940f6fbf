package dev.ferry.control;

import java.util.Comparator;

/** The unit of assignment: one region of one volume. */
public record Portion(String volume, int region) implements Comparable<Portion> {
  private static final Comparator<Portion> ORDER =
      Comparator.comparing(Portion::volume).thenComparingInt(Portion::region);

  @Override
  public int compareTo(Portion other) {
    return ORDER.compare(this, other);
  }

  @Override
  public String toString() {
    return volume + "/" + region;
  }
}
