package dev.ferry.node.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine;

/**
 * Lets a long-running command stop early on SIGTERM or Ctrl-C and still finish its work: the
 * JVM's shutdown hook asks the command to stop, waits until it says {@link #finished}, then ends
 * the process with the command's own exit code (a signal would otherwise end it with 143 or 130
 * and cut off the summary). Scripts and tests stop {@code ferry load} this way and still get the
 * summary and a ledger that holds every acknowledged write.
 */
final class StopOnSignal {
  /** How long the hook waits for the command to finish after the signal. */
  private static final long FINISH_SECONDS = 60;

  private final AtomicBoolean requested = new AtomicBoolean();
  private final CountDownLatch finished = new CountDownLatch(1);
  private final AtomicInteger exitCode = new AtomicInteger(FerryCli.FAILED);
  private final Thread hook;

  private StopOnSignal(CommandLine cli) {
    hook = new Thread(() -> {
      if (finished.getCount() == 0) {
        return; // the command ended by itself: the normal exit goes on
      }
      requested.set(true);
      try {
        finished.await(FINISH_SECONDS, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      cli.getOut().flush();
      cli.getErr().flush();
      System.out.flush();
      Runtime.getRuntime().halt(exitCode.get());
    }, "ferry-stop-on-signal");
  }

  static StopOnSignal install(CommandLine cli) {
    StopOnSignal s = new StopOnSignal(cli);
    Runtime.getRuntime().addShutdownHook(s.hook);
    return s;
  }

  /** True once a signal asked the command to stop. */
  boolean requested() {
    return requested.get();
  }

  /** The command is done (its summary printed): the process may end with {@code code}. */
  void finished(int code) {
    exitCode.set(code);
    finished.countDown();
    if (!requested.get()) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the JVM is already exiting; the hook sees finished and returns at once
      }
    }
  }
}
