package dev.ferry.node.sim;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Outcome;
import dev.ferry.proto.control.Command;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The Raft group, as the data plane sees it: a log of committed commands stepped through the
 * real {@link ClusterTransitions#apply} (with the entry's term, so a deposed leader's close is
 * refused as in production), a commit latency, a leader that can change, and each process
 * applying the committed states in order with its own lag.
 */
final class SimControl {
  private final Simulator sim;
  private final SimNetwork net;
  private final Faults faults;
  /** states.get(i): the state after i committed entries. */
  private final List<ClusterState> states = new ArrayList<>();
  private final List<String> processes;
  private final BiConsumer<String, Integer> onCommitted;
  /** Hears, at a process, of a leader and its term (late if it is paused or cut off). */
  interface LeaderListener {
    void heard(String process, String leader, long term);
  }

  private LeaderListener onLeader = (p, l, t) -> { };
  private long term = 1;
  private String leader;

  /**
   * @param onCommitted told, at each process, each committed index it now applies (in order,
   *     possibly several at once when it lagged or was paused)
   */
  SimControl(Simulator sim, SimNetwork net, Faults faults, ClusterState initial,
      List<String> processes, String leader, BiConsumer<String, Integer> onCommitted) {
    this.sim = sim;
    this.net = net;
    this.faults = faults;
    this.processes = List.copyOf(processes);
    this.leader = leader;
    this.onCommitted = onCommitted;
    states.add(initial);
  }

  ClusterState committed() {
    return states.get(states.size() - 1);
  }

  int lastIndex() {
    return states.size() - 1;
  }

  ClusterState at(int index) {
    return states.get(index);
  }

  String leader() {
    return leader;
  }

  long term() {
    return term;
  }

  /** A new leader is elected (the old one was partitioned, paused or stepped down). */
  void electNewLeader(List<String> candidates) {
    term++;
    leader = candidates.get(sim.random.nextInt(candidates.size()));
    faults.count("leader change");
    sim.note("term " + term + ": leader " + leader);
    announce();
  }

  void onLeader(LeaderListener listener) {
    onLeader = listener;
  }

  /**
   * The leader's heartbeat: each process hears of it through the network, late, or not while
   * cut off from it; a deposed leader that does not hear of the next term goes on as leader.
   */
  void announce() {
    String l = leader;
    long t = term;
    for (String p : processes) {
      net.send(l, p, "leader " + l + " term " + t, () -> onLeader.heard(p, l, t));
    }
  }

  /**
   * Proposes {@code command} from process {@code from}; it is committed (or refused) in the term
   * current when it reaches the log, and {@code onOutcome} runs at {@code from}.
   */
  void propose(String from, Command command, Consumer<Outcome> onOutcome) {
    sim.after(sim.between(300, 4_000), "commit " + command.getKindCase(), () -> {
      Outcome o = ClusterTransitions.apply(committed(), command, term);
      if (o.accepted()) {
        states.add(o.state());
        int index = lastIndex();
        sim.note("committed #" + index + " " + command.getKindCase() + " open epoch "
            + o.state().openEpoch() + " consistent " + o.state().consistentEpoch());
        for (String p : processes) {
          net.timer(p, sim.between(50, 3_000), "apply #" + index,
              () -> onCommitted.accept(p, index));
        }
      } else {
        sim.note("refused " + command.getKindCase() + ": " + ((Outcome.Rejected) o).reason());
      }
      net.timer(from, sim.between(50, 1_000), "outcome", () -> onOutcome.accept(o));
    });
  }
}
