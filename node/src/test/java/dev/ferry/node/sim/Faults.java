package dev.ferry.node.sim;

import java.util.Map;
import java.util.TreeMap;

/** What a run injects, and a count of what it did inject, per kind. */
final class Faults {
  /** Chance that one message between two processes is lost. */
  double lossRate;
  /** Chance that one message is held back 5 to 60 ms. */
  double slowRate;
  /** Chance per fault tick of each kind of process fault. */
  double pauseRate;
  double partitionRate;
  double leaderChangeRate;
  double crashRate;
  final Map<String, Long> injected = new TreeMap<>();
  /** How often a protocol path the checks are meant for was taken (a run that takes none checks little). */
  final Map<String, Long> exercised = new TreeMap<>();

  void count(String kind) {
    injected.merge(kind, 1L, Long::sum);
  }

  void exercised(String path) {
    exercised.merge(path, 1L, Long::sum);
  }

  /** Nothing lost, slowed, paused or cut: how a run ends, to see that everything completes. */
  void calm() {
    lossRate = 0;
    slowRate = 0;
    pauseRate = 0;
    partitionRate = 0;
    leaderChangeRate = 0;
    crashRate = 0;
  }
}
