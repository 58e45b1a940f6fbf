package dev.ferry.it;

/** A {@link WithReplicatedCluster} of five nodes keeping three copies of every update. */
abstract class WithFiveNodesThreeCopies extends WithReplicatedCluster {
  @Override
  protected int nodes() {
    return 5;
  }

  @Override
  protected int copies() {
    return 3;
  }
}
