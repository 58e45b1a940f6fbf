package dev.ferry.node;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Outcome;
import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CommitEpoch;

/**
 * For tests whose failed member comes back: the state machine takes a new incarnation only once
 * the failure of the last one is settled (the epoch after the one open when it was declared is
 * applied), so such a test first closes and commits empty epochs up to there.
 */
public final class SettledFailures {
  private SettledFailures() {}

  /** {@code s} after empty epochs closed and committed until no failure is unsettled. */
  public static ClusterState settle(ClusterState s) {
    ClusterState now = s;
    while (now.unsettledFailures() > 0) {
      long epoch = now.openEpoch();
      now = accepted(now, Command.newBuilder()
          .setCloseEpoch(CloseEpoch.newBuilder().setEpoch(epoch)).build());
      now = accepted(now, Command.newBuilder()
          .setCommitEpoch(CommitEpoch.newBuilder().setEpoch(epoch)).build());
    }
    return now;
  }

  private static ClusterState accepted(ClusterState s, Command c) {
    Outcome o = ClusterTransitions.apply(s, c);
    if (!o.accepted()) {
      throw new AssertionError(c + " refused: " + o);
    }
    return o.state();
  }
}
