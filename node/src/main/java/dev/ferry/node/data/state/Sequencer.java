package dev.ferry.node.data.state;

import dev.ferry.control.Portion;
import dev.ferry.control.WatermarkDigest;
import dev.ferry.proto.control.Watermark;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The numbers this node gives as owner (claim 1): per (portion, epoch), n counts up from 1 and
 * is never given twice, and the updates numbered there are kept in ascending n until their
 * epoch is applied at the secondary, for the epoch's watermark and its transfer. Not
 * thread-safe: the data thread owns it.
 *
 * @param <U> an update as the shell keeps it (with where its payload lies)
 */
public final class Sequencer<U extends Numbered> {
  /** Highest n given per (portion, epoch). */
  private final Map<PortionEpoch, Long> lastN = new HashMap<>();
  /** The updates numbered per (portion, epoch), ascending n. */
  private final Map<PortionEpoch, List<U>> numbered = new HashMap<>();

  /** Gives the next number of {@code p} in {@code epoch}. */
  public long next(Portion p, long epoch) {
    return lastN.merge(new PortionEpoch(p, epoch), 1L, Long::sum);
  }

  /**
   * Takes back number {@code n} of {@code p} in {@code epoch} if it is the last one given and
   * nothing was recorded under it (its journal append was refused at once): the next update
   * gets it instead, and the numbers stay gap-free.
   */
  public void giveBack(Portion p, long epoch, long n) {
    if (contains(p, epoch, n)) {
      return;
    }
    lastN.computeIfPresent(new PortionEpoch(p, epoch), (k, last) -> last == n ? last - 1 : last);
  }

  /**
   * Records {@code u}, numbered {@code u.n()} in {@code p}'s {@code epoch}, here or by a failed
   * owner whose portion this node took over (then the counter moves past it).
   *
   * @throws IllegalStateException if another update has that number already: two updates with
   *     one number would make the epoch's watermark wrong
   */
  public void add(Portion p, long epoch, U u) {
    PortionEpoch pe = new PortionEpoch(p, epoch);
    List<U> list = numbered.computeIfAbsent(pe, k -> new ArrayList<>());
    int at = Collections.binarySearch(list, u, Comparator.comparingLong(Numbered::n));
    if (at >= 0) {
      throw new IllegalStateException("two updates numbered " + epoch + "/" + u.n() + " in " + p
          + ": " + list.get(at) + " and " + u);
    }
    list.add(-at - 1, u);
    lastN.merge(pe, u.n(), Math::max);
  }

  /** Forgets {@code u} (its copy was refused for space after it was recorded): not staged. */
  public void remove(Portion p, long epoch, U u) {
    List<U> list = numbered.get(new PortionEpoch(p, epoch));
    if (list != null) {
      list.removeIf(x -> x == u);
    }
  }

  /** The updates numbered in {@code p}'s {@code epoch}, ascending n; null if none ever was. */
  public List<U> updates(Portion p, long epoch) {
    List<U> list = numbered.get(new PortionEpoch(p, epoch));
    return list == null ? null : List.copyOf(list);
  }

  /** Whether an update numbered {@code n} in {@code p}'s {@code epoch} is recorded here. */
  public boolean contains(Portion p, long epoch, long n) {
    return numbered.getOrDefault(new PortionEpoch(p, epoch), List.of()).stream()
        .anyMatch(u -> u.n() == n);
  }

  /** Every (portion, epoch) with updates recorded here and not yet released. */
  public Set<PortionEpoch> portionEpochs() {
    return Set.copyOf(numbered.keySet());
  }

  /** The watermarks of the portions with updates numbered here in {@code epoch}, sorted. */
  public List<Watermark> watermarks(long epoch) {
    List<Watermark> out = new ArrayList<>();
    numbered.forEach((pe, updates) -> {
      if (pe.epoch() == epoch && !updates.isEmpty()) {
        out.add(watermarkOf(pe.portion(), updates));
      }
    });
    out.sort(Comparator.comparing(Watermark::getVolume).thenComparingLong(Watermark::getRegion));
    return out;
  }

  /** Count, bytes, last n and digest of a portion's updates in one epoch, in n order. */
  public static Watermark watermarkOf(Portion p, List<? extends Numbered> updates) {
    WatermarkDigest d = new WatermarkDigest();
    for (Numbered u : updates) {
      d.add(u.n(), u.offset(), u.length(), u.crc32c());
    }
    return d.toWatermark(p);
  }

  /** Those of {@code portions} that were given a number in an epoch after {@code epoch}. */
  public List<Portion> numberedAfter(long epoch, Collection<Portion> portions) {
    Set<Portion> wanted = Set.copyOf(portions);
    return lastN.entrySet().stream()
        .filter(e -> e.getKey().epoch() > epoch && e.getValue() > 0
            && wanted.contains(e.getKey().portion()))
        .map(e -> e.getKey().portion()).distinct().sorted().toList();
  }

  /** Forgets every epoch up to {@code epoch}: the secondary holds them for good. */
  public void releaseThrough(long epoch) {
    numbered.keySet().removeIf(pe -> pe.epoch() <= epoch);
    lastN.keySet().removeIf(pe -> pe.epoch() <= epoch);
  }

  /** Forgets everything (this node was declared FAILED: the others handed it over). */
  public void clear() {
    numbered.clear();
    lastN.clear();
  }

  /** Whether no update is recorded here. */
  public boolean isEmpty() {
    return numbered.isEmpty();
  }
}
