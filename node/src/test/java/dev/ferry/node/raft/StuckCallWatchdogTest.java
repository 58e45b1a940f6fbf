package dev.ferry.node.raft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.node.raft.StuckCallWatchdog.ThreadSample;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class StuckCallWatchdogTest {
  private static final String RUNNER = StuckCallWatchdog.RAFT_LOG_RUNNER;
  private static final Duration LIMIT = Duration.ofSeconds(30);

  private final AtomicLong clock = new AtomicLong();
  private final Map<Long, ThreadSample> threads = new HashMap<>();
  private final List<String> reports = new ArrayList<>();
  private final StuckCallWatchdog watchdog = new StuckCallWatchdog(RUNNER, "runSequentially",
      LIMIT, clock::get, () -> Map.copyOf(threads), reports::add);

  private static StackTraceElement[] stack(String top, int line) {
    return new StackTraceElement[] {
        new StackTraceElement("java.lang.ClassLoader", top, "ClassLoader.java", line),
        new StackTraceElement(RUNNER, "runSequentially", "RaftLogSequentialOps.java", 78),
        new StackTraceElement("java.lang.Thread", "run", "Thread.java", 840)};
  }

  /** Samples once a second for {@code seconds}, the stack of thread 7 given by {@code at}. */
  private void sampleEverySecond(int seconds, java.util.function.IntFunction<StackTraceElement[]> at) {
    for (int s = 0; s < seconds; s++) {
      threads.put(7L, new ThreadSample("n3-server-thread2", at.apply(s)));
      watchdog.sample();
      clock.addAndGet(Duration.ofSeconds(1).toNanos());
    }
  }

  @Test
  void aThreadStoppedAtOnePlaceInsideTheLogRunnerPastTheLimitIsReportedOnce() {
    sampleEverySecond(30, s -> stack("defineClass1", 1017));
    assertThat(reports).isEmpty(); // 29 s between the first and the last sample
    sampleEverySecond(5, s -> stack("defineClass1", 1017));
    assertThat(reports).hasSize(1);
    assertThat(reports.get(0)).contains("n3-server-thread2", RUNNER + ".runSequentially",
        "thread dump:");
  }

  @Test
  void aThreadThatMovesInsideTheRunnerIsNotStuck() {
    sampleEverySecond(90, s -> stack("append", s % 2 == 0 ? 100 : 200));
    assertThat(reports).isEmpty();
  }

  @Test
  void aThreadThatLeavesTheRunnerStartsOver() {
    sampleEverySecond(25, s -> stack("defineClass1", 1017));
    sampleEverySecond(1, s -> new StackTraceElement[] {
        new StackTraceElement("java.lang.Thread", "run", "Thread.java", 840)});
    sampleEverySecond(25, s -> stack("defineClass1", 1017));
    assertThat(reports).isEmpty();
  }

  @Test
  void aPausedProcessIsNotAStuckThread() {
    // SIGSTOP for a minute: the clock jumps between two samples of an unchanged stack
    sampleEverySecond(2, s -> stack("write", 55));
    clock.addAndGet(Duration.ofSeconds(60).toNanos());
    sampleEverySecond(3, s -> stack("write", 55));
    assertThat(reports).isEmpty();
  }

  @Test
  void aRealThreadBlockedInsideTheWatchedMethodIsSeenInTheLiveSample() throws Exception {
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread t = new Thread(() -> Blocker.runSequentially(inside, release), "blocked-in-runner");
    t.start();
    try {
      inside.await();
      List<String> seen = new ArrayList<>();
      StuckCallWatchdog live = new StuckCallWatchdog(Blocker.class.getName(), "runSequentially",
          Duration.ofSeconds(2), clock::get, StuckCallWatchdog::liveThreads, seen::add);
      for (int s = 0; s < 5; s++) {
        live.sample();
        clock.addAndGet(Duration.ofSeconds(1).toNanos());
      }
      assertThat(seen).hasSize(1);
      assertThat(seen.get(0)).contains("blocked-in-runner", "\"blocked-in-runner\" WAITING");
    } finally {
      release.countDown();
      t.join();
    }
  }

  @Test
  void theWatchedRatisMethodExists() throws Exception {
    // an upgrade of Ratis that renames it would leave the watchdog watching nothing
    Class<?> runner = Class.forName(RUNNER);
    assertThat(runner.getDeclaredMethods()).extracting(java.lang.reflect.Method::getName)
        .contains("runSequentially");
  }

  /** Stands for the watched method in the live test. */
  private static final class Blocker {
    static void runSequentially(CountDownLatch inside, CountDownLatch release) {
      inside.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
