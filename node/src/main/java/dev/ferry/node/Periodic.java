package dev.ferry.node;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.Logger;

/**
 * Duties a node runs again and again (registering as a member, the coordinator's tick). A task
 * given to {@link ScheduledExecutorService#scheduleWithFixedDelay} that throws once is never
 * run again, silently: a node whose registrar threw would stay out of the cluster for good.
 * Here a failed run is logged and the next one comes as planned.
 */
public final class Periodic {
  /**
   * Runs {@code duty} on {@code thread} now and then {@code delay} after each run ends; a run
   * that throws a RuntimeException is logged at WARN on {@code log} as "{@code what} failed".
   */
  public static ScheduledFuture<?> everyDelay(ScheduledExecutorService thread, Duration delay,
      Logger log, String what, Runnable duty) {
    return thread.scheduleWithFixedDelay(() -> {
      try {
        duty.run();
      } catch (RuntimeException e) {
        log.warn("{} failed; trying again in {} ms", what, delay.toMillis(), e);
      }
    }, 0, delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  private Periodic() {}
}
