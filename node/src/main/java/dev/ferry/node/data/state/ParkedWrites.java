package dev.ferry.node.data.state;

import com.google.common.base.Preconditions;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes that wait for an epoch to close (their portion's owner changes with it) or for a
 * failed owner's handoff, at most {@code capacity} of them, in arrival order. Each one is tried
 * again when something they wait for happens, and parks again if it still must. Not
 * thread-safe: the data thread owns it.
 *
 * @param <W> what the shell needs to try one write again
 */
public final class ParkedWrites<W> {
  private final int capacity;
  private final List<W> waiting = new ArrayList<>();

  public ParkedWrites(int capacity) {
    Preconditions.checkArgument(capacity > 0, "capacity must be positive: %s", capacity);
    this.capacity = capacity;
  }

  /** Parks {@code write}; false, parking nothing, when {@code capacity} writes wait already. */
  public boolean park(W write) {
    if (waiting.size() >= capacity) {
      return false;
    }
    waiting.add(write);
    return true;
  }

  /** Removes and returns every parked write, in arrival order, to be tried again. */
  public List<W> drain() {
    List<W> out = List.copyOf(waiting);
    waiting.clear();
    return out;
  }

  public int size() {
    return waiting.size();
  }

  public int capacity() {
    return capacity;
  }
}
