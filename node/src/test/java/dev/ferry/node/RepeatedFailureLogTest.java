package dev.ferry.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RepeatedFailureLogTest {
  private final AtomicLong now = new AtomicLong(1_000);
  private final RepeatedFailureLog log = new RepeatedFailureLog(10_000, now::get);

  @Test
  void theSameFailureIsLoggedOncePerIntervalAndANewKindAtOnce() {
    assertThat(log.shouldLog("dr:1 UNAVAILABLE")).as("first").isTrue();
    now.addAndGet(9_999);
    assertThat(log.shouldLog("dr:1 UNAVAILABLE")).as("again within the interval").isFalse();
    assertThat(log.shouldLog("dr:1 FAILED_PRECONDITION")).as("another status").isTrue();
    assertThat(log.shouldLog("dr:2 FAILED_PRECONDITION")).as("another secondary").isTrue();
    assertThat(log.shouldLog("dr:2 FAILED_PRECONDITION")).isFalse();
    now.addAndGet(10_000);
    assertThat(log.shouldLog("dr:2 FAILED_PRECONDITION")).as("the interval is over").isTrue();
  }
}
