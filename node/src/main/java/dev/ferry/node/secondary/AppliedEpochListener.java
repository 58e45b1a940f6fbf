package dev.ferry.node.secondary;

/**
 * Told of each epoch the moment it is applied (its images forced, APPLIED logged), on the
 * store's thread and before anything else happens to the store, so a listener that reads the
 * store sees exactly the image of that epoch. Used by tests that check every applied state.
 * A listener must not throw: what it throws is logged and ignored.
 */
@FunctionalInterface
public interface AppliedEpochListener {
  AppliedEpochListener NONE = (epoch, store) -> { };

  void applied(long epoch, SecondaryStore store) throws Exception;
}
