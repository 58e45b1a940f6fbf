package dev.ferry.control;

import com.google.common.collect.ImmutableSortedMap;
import com.google.common.collect.ImmutableSortedSet;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.Watermark;

/**
 * An epoch that is closed but not yet applied at every secondary concerned. Immutable.
 *
 * @param watermarks per-portion summaries reported at Freeze; the portions that must be staged
 * @param secondaries the secondaries that must apply this epoch (those of the volumes written)
 */
public record EpochRecord(
    long number,
    EpochState state,
    ImmutableSortedMap<Portion, Watermark> watermarks,
    ImmutableSortedSet<Portion> staged,
    ImmutableSortedSet<String> secondaries,
    ImmutableSortedSet<String> appliedBy,
    long closedAtMillis) {

  public EpochRecord withState(EpochState newState) {
    return new EpochRecord(number, newState, watermarks, staged, secondaries, appliedBy, closedAtMillis);
  }

  public EpochRecord withStaged(ImmutableSortedSet<Portion> newStaged) {
    return new EpochRecord(number, state, watermarks, newStaged, secondaries, appliedBy, closedAtMillis);
  }

  public EpochRecord withAppliedBy(ImmutableSortedSet<String> newAppliedBy) {
    return new EpochRecord(number, state, watermarks, staged, secondaries, newAppliedBy, closedAtMillis);
  }

  public boolean fullyStaged() {
    return staged.containsAll(watermarks.keySet());
  }

  public boolean fullyApplied() {
    return appliedBy.containsAll(secondaries);
  }
}
