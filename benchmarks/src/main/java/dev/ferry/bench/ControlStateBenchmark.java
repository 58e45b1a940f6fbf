package dev.ferry.bench;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.ferry.control.AssignmentPolicy;
import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Outcome;
import dev.ferry.control.ratis.SnapshotFile;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.PortionPlacement;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The control state at 100,000 portions (100 volumes x 1,000 regions, 5 ACTIVE members and a 6th
 * JOINING): what it costs to plan and apply a rebalance, to apply a failure, and to encode a
 * snapshot. See docs/BENCHMARKS.md.
 *
 * <p>Every benchmark works on the same immutable state, so each invocation does the full work;
 * results are returned so that JMH consumes them.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class ControlStateBenchmark {
  private ClusterState state;
  private Command rebalance;
  private byte[] rebalanceBytes;
  private List<String> joining;
  private Command markFailed;

  @Setup(Level.Trial)
  public void setup() {
    ControlStateFixture f = ControlStateFixture.build(); // throws if the state is not as described
    state = f.state;
    rebalance = f.rebalanceCommand;
    rebalanceBytes = rebalance.toByteArray();
    joining = rebalance.getReassignPortions().getActivateList();
    markFailed = f.markFailedCommand;
  }

  /** The state machine applying the coordinator's join command (validation included). */
  @Benchmark
  public Outcome applyRebalance() {
    return ClusterTransitions.apply(state, rebalance);
  }

  /** The Raft log entry's bytes back into a command, as applyTransaction does before applying. */
  @Benchmark
  public Command parseRebalance() throws InvalidProtocolBufferException {
    return Command.parseFrom(rebalanceBytes);
  }

  /** The coordinator computing the join's delta. */
  @Benchmark
  public List<PortionPlacement> planRebalance() {
    return AssignmentPolicy.plan(state, joining);
  }

  /** MarkFailed: the state machine rebalances the failed member's portions at apply time. */
  @Benchmark
  public Outcome applyMarkFailed() {
    return ClusterTransitions.apply(state, markFailed);
  }

  /** The snapshot bytes the state machine writes (protobuf encoding + CRC32C + header). */
  @Benchmark
  public byte[] encodeSnapshot() {
    return SnapshotFile.encode(1, 1, state);
  }
}
