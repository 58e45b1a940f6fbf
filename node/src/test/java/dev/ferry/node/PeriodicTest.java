package dev.ferry.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.logging.log4j.LogManager;
import org.junit.jupiter.api.Test;

class PeriodicTest {
  /** With a bare scheduleWithFixedDelay the first failure would have been the last run. */
  @Test
  void aDutyThatThrowsRunsAgain() {
    ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor();
    try {
      AtomicInteger runs = new AtomicInteger();
      Periodic.everyDelay(thread, Duration.ofMillis(1), LogManager.getLogger(PeriodicTest.class),
          "a duty that fails twice", () -> {
            if (runs.incrementAndGet() <= 2) {
              throw new IllegalStateException("failure " + runs.get());
            }
          });
      await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() >= 4);
      assertThat(runs.get()).isGreaterThanOrEqualTo(4);
    } finally {
      thread.shutdownNow();
    }
  }
}
