package dev.ferry.it;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** A {@link WithReplicatedCluster} with a {@link Nemesis} over it (the fault-injection ITs). */
abstract class WithNemesis extends WithReplicatedCluster {
  protected Nemesis nemesis;

  @BeforeAll
  void nemesis() {
    nemesis = new Nemesis(site, nodes(), volumes());
  }

  @AfterAll
  void closeNemesis() {
    if (nemesis != null) {
      nemesis.close();
    }
  }
}
