package dev.ferry.node.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The deterministic simulation of the barrier and the owner path (issue 11): many seeded runs of
 * {@link SimCluster}, each checked after every step. {@code -Dferry.sim.seeds=N} sets how many
 * (1,000 by default, 100,000 in {@code -Psoak}); {@code -Dferry.sim.seed=S} where they start, so
 * a failing seed replays alone with {@code -Dferry.sim.seed=S -Dferry.sim.seeds=1}.
 */
class DataPlaneSimulationTest {
  @Test
  void everySeedKeepsTheBarriersPromises() {
    long first = Long.getLong("ferry.sim.seed", 1);
    long seeds = Long.getLong("ferry.sim.seeds", 1_000);
    long events = 0;
    long acks = 0;
    long epochs = 0;
    Map<String, Long> faults = new TreeMap<>();
    Map<String, Long> exercised = new TreeMap<>();
    for (long seed = first; seed < first + seeds; seed++) {
      SimCluster run = new SimCluster(seed);
      try {
        run.run();
      } catch (SimCluster.Violation v) {
        throw new AssertionError("seed " + seed + ": " + v.getMessage() + "\nlast events:\n"
            + run.sim.trace() + "\nreplay: mvn -B -o test -pl node -Dtest=DataPlaneSimulationTest"
            + " -Dferry.sim.seed=" + seed + " -Dferry.sim.seeds=1", v);
      }
      events += run.sim.events();
      acks += run.acks();
      epochs += run.epochsApplied();
      run.faults.injected.forEach((k, n) -> faults.merge(k, n, Long::sum));
      run.faults.exercised.forEach((k, n) -> exercised.merge(k, n, Long::sum));
    }
    System.out.printf("simulation: %d seeds from %d, %d events, %d acks, %d epochs applied,"
        + " faults %s, paths %s, 0 violations%n", seeds, first, events, acks, epochs, faults,
        exercised);
    // the runs must have done what they claim to check
    assertThat(acks).isGreaterThan(seeds * 50);
    assertThat(epochs).isGreaterThan(seeds * 10);
    if (seeds >= 100) {
      assertThat(faults).containsKeys("message lost", "message slow", "pause", "partition",
          "leader change", "crash", "join", "drain");
      assertThat(exercised).containsKeys("write parked until its portion's move closes",
          "close with an assignment change", "write forwarded to its owner");
    }
  }
}
