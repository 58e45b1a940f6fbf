package dev.ferry.node.sim;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.PriorityQueue;
import java.util.Random;

/**
 * Virtual time and the one event queue of a simulation run: every delivery, timer and step runs
 * here, one at a time, in (time, order of scheduling) order, with all randomness drawn from one
 * seeded {@link Random}. The same seed replays the same run exactly.
 */
final class Simulator {
  /** One thing that happens at a moment of virtual time (microseconds). */
  private record Event(long at, long order, String what, Runnable action) {}

  final long seed;
  final Random random;
  private final PriorityQueue<Event> queue = new PriorityQueue<>((a, b) -> a.at != b.at
      ? Long.compare(a.at, b.at) : Long.compare(a.order, b.order));
  /** The last events run, for a failure's report. */
  private final Deque<String> trace = new ArrayDeque<>();
  private static final int TRACE_LINES = 80;
  private long now;
  private long order;
  private long events;

  Simulator(long seed) {
    this.seed = seed;
    this.random = new Random(seed);
  }

  /** Virtual microseconds since the run started. */
  long now() {
    return now;
  }

  long events() {
    return events;
  }

  /** Runs {@code action} {@code delayMicros} from now. */
  void after(long delayMicros, String what, Runnable action) {
    queue.add(new Event(now + Math.max(0, delayMicros), order++, what, action));
  }

  /** A uniform draw in [lo, hi]. */
  long between(long lo, long hi) {
    return lo + (long) (random.nextDouble() * (hi - lo + 1));
  }

  boolean chance(double p) {
    return random.nextDouble() < p;
  }

  /** Notes something for the trace printed when a run fails. */
  void note(String line) {
    if (trace.size() == TRACE_LINES) {
      trace.removeFirst();
    }
    trace.addLast(String.format("%9.3f ms  %s", now / 1000.0, line));
  }

  /** Runs events until virtual time {@code until} or until none is left. */
  void runUntil(long until) {
    while (!queue.isEmpty() && queue.peek().at <= until) {
      Event e = queue.poll();
      now = e.at;
      events++;
      e.action.run();
    }
    now = Math.max(now, until);
  }

  String trace() {
    return String.join("\n", trace);
  }
}
