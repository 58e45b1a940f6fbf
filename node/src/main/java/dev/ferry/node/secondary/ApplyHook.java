package dev.ferry.node.secondary;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A test hook into the apply of a committed epoch: called once its APPLYING record is durable
 * (written = 0) and after each update it writes into the images (written = 1, 2, ...). Not
 * called by the redo at open.
 */
@FunctionalInterface
interface ApplyHook {
  /**
   * Test hook, for crash tests of whole processes: {@code -Dferry.secondary.haltAfterUpdates=E:K}
   * halts the process (status {@value #HALT_STATUS}, no shutdown hooks) during the apply of
   * the first epoch from E on that has K updates, once K are written (K = 0: right after
   * APPLYING is durable). "From E on", not "E": a test cannot know which epoch its writes land
   * in, and an epoch with fewer updates would never fire it.
   */
  String HALT_PROPERTY = "ferry.secondary.haltAfterUpdates";
  int HALT_STATUS = 99;
  ApplyHook NONE = (epoch, written) -> { };

  void afterUpdate(long epoch, long written);

  /** The hook the system property asks for, or NONE. */
  static ApplyHook fromSystemProperty() {
    String spec = System.getProperty(HALT_PROPERTY);
    return spec == null ? NONE
        : haltAfter(spec, () -> Runtime.getRuntime().halt(HALT_STATUS));
  }

  /** Runs halt, once, when the apply of an epoch >= E has written K updates; spec is "E:K". */
  static ApplyHook haltAfter(String spec, Runnable halt) {
    Matcher m = Pattern.compile("(\\d+):(\\d+)").matcher(spec.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException(HALT_PROPERTY + " must be <epoch>:<updates>, not '"
          + spec + "'");
    }
    long epoch = Long.parseLong(m.group(1));
    long updates = Long.parseLong(m.group(2));
    AtomicBoolean fired = new AtomicBoolean();
    return (e, written) -> {
      if (e >= epoch && written == updates && fired.compareAndSet(false, true)) {
        halt.run();
      }
    };
  }
}
