package dev.ferry.bench;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ratis.SnapshotFile;
import java.util.Locale;

/**
 * Prints the snapshot size of the control state at 100,000 portions (the state of {@link
 * ControlStateBenchmark}) and the size of the rebalance command that activates a 6th member.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.ferry.bench.SnapshotSize</pre>
 */
public final class SnapshotSize {
  private SnapshotSize() {}

  public static void main(String[] args) {
    ControlStateFixture f = ControlStateFixture.build();
    ClusterState afterJoin = ControlStateFixture.applyOrThrow(f.state, f.rebalanceCommand);
    print("5 ACTIVE + 1 JOINING (benchmark state)", f.state);
    print("6 ACTIVE (after the rebalance)", afterJoin);
    int changes = f.rebalanceCommand.getReassignPortions().getChangesCount();
    int commandBytes = f.rebalanceCommand.getSerializedSize();
    System.out.printf(Locale.ROOT, "rebalance command (activate %s): %d placement changes, "
            + "%d bytes (%.2f MB) as a Raft log entry%n",
        ControlStateFixture.JOINING_MEMBER, changes, commandBytes, commandBytes / 1e6);
  }

  private static void print(String what, ClusterState s) {
    int bytes = SnapshotFile.encode(1, 1, s).length;
    System.out.printf(Locale.ROOT, "%s: portions=%d assignment_version=%d snapshot=%d bytes "
            + "(%.3f MB, %.3f MiB)%n",
        what, s.portionCount(), s.assignmentVersion(), bytes, bytes / 1e6, bytes / 1048576.0);
  }
}
