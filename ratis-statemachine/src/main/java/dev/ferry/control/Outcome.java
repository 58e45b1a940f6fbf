package dev.ferry.control;

import dev.ferry.proto.control.RejectCode;
import java.util.Objects;

/** The result of applying one command: the next state, or a rejection that leaves it unchanged. */
public sealed interface Outcome {
  ClusterState state();

  boolean accepted();

  /** The command applied; {@code state} is the new state. */
  record Accepted(ClusterState state) implements Outcome {
    @Override
    public boolean accepted() {
      return true;
    }
  }

  /** The command did not apply; {@code state} is the unchanged input state. */
  record Rejected(ClusterState state, RejectCode code, String reason) implements Outcome {
    public Rejected {
      Objects.requireNonNull(reason);
    }

    @Override
    public boolean accepted() {
      return false;
    }
  }
}
