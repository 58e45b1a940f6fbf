package dev.ferry.node.raft;

import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.MonitorInfo;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Notices a thread that has stayed inside one watched method, stopped at the same place, for
 * longer than a limit, and reports it once with a dump of every thread.
 *
 * <p>Why: Ratis's segmented Raft log lets one thread at a time run a log method and fails every
 * other caller at once ({@code SegmentedRaftLog: Already running a method by Thread[...]}).
 * A thread that never returns from one (seen in soaks and CI after a partition: a follower's
 * truncate stopped inside class definition for minutes) leaves a peer that answers heartbeats
 * as a member yet can never append again; Ratis reports no log failure for it. The node cannot
 * repair that from inside, so it stops by name and its supervisor starts it again, which the
 * cluster survives like any crash.
 *
 * <p>A thread counts as stuck only after {@code limit} of wall time <em>and</em> as many
 * consecutive samples as fit in it, each showing the same stack: a process paused by SIGSTOP
 * or a long GC sees one long gap between two samples, not a stuck thread.
 *
 * <p>{@link #sample} is called by one thread only (the scheduler of {@link #start}, or a test).
 */
public final class StuckCallWatchdog {
  static final Duration SAMPLE_INTERVAL = Duration.ofSeconds(1);

  private final String watchedClass;
  private final String watchedMethod;
  private final long limitNanos;
  private final int samplesNeeded;
  private final LongSupplier nanoClock;
  private final Supplier<Map<Long, ThreadSample>> sampler;
  private final Consumer<String> onStuck;
  private final Map<Long, Suspect> suspects = new HashMap<>();
  private boolean reported;

  /** One thread as a sample saw it: its name and stack (top frame first). */
  public record ThreadSample(String name, StackTraceElement[] stack) {}

  /** A thread seen inside the watched method with the same stack since {@code sinceNanos}. */
  private record Suspect(StackTraceElement[] stack, long sinceNanos, int samples) {}

  /**
   * @param watchedClass the binary name of the class whose method is watched
   * @param sampler every live thread's stack by thread id
   * @param onStuck given a report (the stuck thread and a dump of all threads), at most once
   */
  public StuckCallWatchdog(String watchedClass, String watchedMethod, Duration limit,
      LongSupplier nanoClock, Supplier<Map<Long, ThreadSample>> sampler,
      Consumer<String> onStuck) {
    this.watchedClass = watchedClass;
    this.watchedMethod = watchedMethod;
    this.limitNanos = limit.toNanos();
    this.samplesNeeded = (int) Math.max(2, limit.toMillis() / SAMPLE_INTERVAL.toMillis());
    this.nanoClock = nanoClock;
    this.sampler = sampler;
    this.onStuck = onStuck;
  }

  /**
   * The Ratis log method every append, truncate and purge runs inside
   * ({@code RaftLogSequentialOps.Runner.runSequentially}), watched for {@code limit} on a daemon
   * thread of its own; {@code onStuck} should stop the process.
   */
  public static ScheduledExecutorService watchRaftLog(String nodeId, Duration limit,
      Consumer<String> onStuck) {
    StuckCallWatchdog w = new StuckCallWatchdog(RAFT_LOG_RUNNER, "runSequentially", limit,
        System::nanoTime, StuckCallWatchdog::liveThreads, onStuck);
    ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "ferry-raft-log-watchdog-" + nodeId);
      t.setDaemon(true);
      return t;
    });
    s.scheduleWithFixedDelay(w::sample, SAMPLE_INTERVAL.toMillis(), SAMPLE_INTERVAL.toMillis(),
        TimeUnit.MILLISECONDS);
    return s;
  }

  /** Binary name of Ratis's one-thread-at-a-time runner of Raft log methods. */
  static final String RAFT_LOG_RUNNER =
      "org.apache.ratis.server.raftlog.RaftLogSequentialOps$Runner";

  /** Takes one sample; reports a thread stuck past the limit (once per watchdog). */
  public void sample() {
    if (reported) {
      return;
    }
    long now = nanoClock.getAsLong();
    Map<Long, ThreadSample> threads = sampler.get();
    suspects.keySet().retainAll(threads.keySet());
    for (Map.Entry<Long, ThreadSample> e : threads.entrySet()) {
      StackTraceElement[] stack = e.getValue().stack();
      if (!insideWatched(stack)) {
        suspects.remove(e.getKey());
        continue;
      }
      Suspect before = suspects.get(e.getKey());
      Suspect seen = before != null && Arrays.equals(before.stack(), stack)
          ? new Suspect(stack, before.sinceNanos(), before.samples() + 1)
          : new Suspect(stack, now, 1);
      suspects.put(e.getKey(), seen);
      if (seen.samples() >= samplesNeeded && now - seen.sinceNanos() >= limitNanos) {
        reported = true;
        onStuck.accept(String.format("thread %s has been inside %s.%s at the same place for"
            + " %d ms (%d samples)%n%s", e.getValue().name(), watchedClass, watchedMethod,
            (now - seen.sinceNanos()) / 1_000_000, seen.samples(), dumpOfAllThreads()));
        return;
      }
    }
  }

  private boolean insideWatched(StackTraceElement[] stack) {
    for (StackTraceElement f : stack) {
      if (f.getClassName().equals(watchedClass) && f.getMethodName().equals(watchedMethod)) {
        return true;
      }
    }
    return false;
  }

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** Every live thread of this JVM with its whole stack. */
  static Map<Long, ThreadSample> liveThreads() {
    Map<Long, ThreadSample> out = new HashMap<>();
    for (ThreadInfo t : THREADS.getThreadInfo(THREADS.getAllThreadIds(), Integer.MAX_VALUE)) {
      if (t != null) {
        out.put(t.getThreadId(), new ThreadSample(t.getThreadName(), t.getStackTrace()));
      }
    }
    return out;
  }

  /**
   * A dump of every thread with its whole stack and the locks it holds or waits for
   * ({@link ThreadInfo#toString} cuts stacks at 8 frames).
   */
  static String dumpOfAllThreads() {
    StringBuilder b = new StringBuilder("thread dump:\n");
    for (ThreadInfo t : THREADS.dumpAllThreads(true, true)) {
      b.append('"').append(t.getThreadName()).append("\" ").append(t.getThreadState());
      if (t.getLockName() != null) {
        b.append(" on ").append(t.getLockName());
        if (t.getLockOwnerName() != null) {
          b.append(" owned by \"").append(t.getLockOwnerName()).append('"');
        }
      }
      b.append('\n');
      StackTraceElement[] stack = t.getStackTrace();
      for (int i = 0; i < stack.length; i++) {
        b.append("\tat ").append(stack[i]).append('\n');
        for (MonitorInfo m : t.getLockedMonitors()) {
          if (m.getLockedStackDepth() == i) {
            b.append("\t- locked ").append(m).append('\n');
          }
        }
      }
      for (LockInfo l : t.getLockedSynchronizers()) {
        b.append("\t- holds ").append(l).append('\n');
      }
    }
    return b.toString();
  }
}
