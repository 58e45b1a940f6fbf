package dev.ferry.node.sim;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The links between simulated processes: each message takes its own random delay (so messages
 * overtake each other), some are lost, and a partition cuts both directions between two
 * processes. A paused process (SIGSTOP) takes nothing until it resumes; what reaches it
 * meanwhile waits, as in a socket buffer. A crashed process loses everything sent to it and
 * every timer it had set; its restart is a new generation that none of those reach.
 */
final class SimNetwork {
  private final Simulator sim;
  private final Faults faults;
  private final Set<String> cut = new HashSet<>();
  private final Map<String, Long> pausedUntil = new HashMap<>();
  private final Map<String, Integer> generation = new HashMap<>();
  private final Set<String> down = new HashSet<>();

  SimNetwork(Simulator sim, Faults faults) {
    this.sim = sim;
    this.faults = faults;
  }

  /** Sends a message from {@code from} to {@code to}; it runs {@code onArrival} there, or is lost. */
  void send(String from, String to, String what, Runnable onArrival) {
    if (!from.equals(to) && (isCut(from, to) || sim.chance(faults.lossRate))) {
      faults.count("message lost");
      return;
    }
    long delay = from.equals(to) ? 0 : sim.between(50, 2_000);
    if (!from.equals(to) && sim.chance(faults.slowRate)) {
      delay += sim.between(5_000, 60_000);
      faults.count("message slow");
    }
    int gen = generation(to);
    sim.after(delay, from + "->" + to + " " + what, () -> runAt(to, gen, what, onArrival));
  }

  /**
   * Runs {@code action} on generation {@code gen} of process {@code at} now, when it resumes if
   * it is paused, or never if that generation crashed.
   */
  private void runAt(String at, int gen, String what, Runnable action) {
    if (down.contains(at) || generation(at) != gen) {
      return;
    }
    long until = pausedUntil.getOrDefault(at, 0L);
    if (sim.now() < until) {
      sim.after(until - sim.now(), "(resumed) " + what, () -> runAt(at, gen, what, action));
      return;
    }
    action.run();
  }

  /** A timer of process {@code at}: late if the process is paused then, gone if it crashed. */
  void timer(String at, long delayMicros, String what, Runnable action) {
    int gen = generation(at);
    sim.after(delayMicros, at + " timer " + what, () -> runAt(at, gen, what, action));
  }

  private int generation(String process) {
    return generation.getOrDefault(process, 0);
  }

  /** The process dies (kill -9): what is on its way to it and its timers are lost. */
  void crash(String process) {
    generation.merge(process, 1, Integer::sum);
    down.add(process);
  }

  /** The process runs again, as a new generation. */
  void restart(String process) {
    down.remove(process);
  }

  boolean isDown(String process) {
    return down.contains(process);
  }

  void pause(String process, long micros) {
    pausedUntil.merge(process, sim.now() + micros, Math::max);
  }

  void partition(String a, String b) {
    cut.add(key(a, b));
  }

  void unpartition(String a, String b) {
    cut.remove(key(a, b));
  }

  void heal() {
    cut.clear();
  }

  private boolean isCut(String a, String b) {
    return cut.contains(key(a, b));
  }

  private static String key(String a, String b) {
    return a.compareTo(b) < 0 ? a + "|" + b : b + "|" + a;
  }
}
