package dev.ferry.node.data.state;

import com.google.common.base.Preconditions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Acknowledgements of updates whose copies exist but whose epoch is not released yet (DESIGN.md
 * §5: no ack of N+1 before every member froze N), by epoch, at most {@code capacity} of them. Not
 * thread-safe: the data thread owns it.
 *
 * @param <A> what the shell needs to send one ack
 */
public final class HeldAcks<A> {
  private final int capacity;
  private final TreeMap<Long, List<A>> byEpoch = new TreeMap<>();
  private int size;

  public HeldAcks(int capacity) {
    Preconditions.checkArgument(capacity > 0, "capacity must be positive: %s", capacity);
    this.capacity = capacity;
  }

  /**
   * Holds {@code ack} until its epoch is released. False, holding nothing, when {@code capacity}
   * acks are held already: the write is answered "retry" instead (its copies stay, so the retry
   * gets the same number).
   */
  public boolean hold(long epoch, A ack) {
    if (size >= capacity) {
      return false;
    }
    byEpoch.computeIfAbsent(epoch, e -> new ArrayList<>()).add(ack);
    size++;
    return true;
  }

  /** Removes and returns the acks of epochs up to {@code epoch}, oldest epoch first. */
  public List<A> releaseThrough(long epoch) {
    List<A> out = new ArrayList<>();
    while (!byEpoch.isEmpty() && byEpoch.firstKey() <= epoch) {
      Map.Entry<Long, List<A>> first = byEpoch.pollFirstEntry();
      out.addAll(first.getValue());
    }
    size -= out.size();
    return out;
  }

  public int size() {
    return size;
  }

  public int capacity() {
    return capacity;
  }
}
