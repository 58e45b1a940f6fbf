package dev.ferry.node.sim;

import dev.ferry.control.ClusterState;
import dev.ferry.control.EpochRecord;
import dev.ferry.control.Portion;
import dev.ferry.node.data.state.PortionEpoch;
import dev.ferry.node.data.state.Sequencer;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.EpochApplied;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.Watermark;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * The DR site: takes staged portions (checked against their sealed watermark, as {@code
 * SecondaryStore} checks them), applies committed epochs whole and in order, and reports each
 * applied epoch through Raft. What it applied is what a failover would find.
 */
final class SimSecondary {
  private final SimCluster world;
  private final Map<PortionEpoch, List<SimUpdate>> staged = new HashMap<>();
  /** Applied writes: key to the epochs it was applied in. */
  final Map<String, Set<Long>> applied = new HashMap<>();
  /** Per primary, the clientSeqs applied. */
  private final Map<String, TreeSet<Long>> appliedByPrimary = new HashMap<>();
  long appliedEpoch;
  private final Set<Long> reporting = new HashSet<>();

  SimSecondary(SimCluster world) {
    this.world = world;
  }

  void onStage(long epoch, Portion p, List<SimUpdate> updates, Watermark sealed,
      Consumer<Result<Boolean>> reply) {
    Watermark here = Sequencer.watermarkOf(p, updates);
    if (!here.equals(sealed)) {
      // what SecondaryStore refuses; refused for good here, so an acked write is not applied
      world.violation("staged " + p + " of epoch " + epoch + " differs from its sealed watermark:"
          + " sealed count " + sealed.getCount() + " last n " + sealed.getLastN() + ", staged "
          + here.getCount() + " last n " + here.getLastN());
    }
    staged.put(new PortionEpoch(p, epoch), List.copyOf(updates));
    reply.accept(Result.ok(true));
  }

  void onCommitted(int index) {
    ClusterState s = world.control.at(index);
    for (EpochRecord e : s.epochs().values()) {
      if (e.number() <= appliedEpoch) {
        if (e.state() == EpochState.COMMITTED && !e.appliedBy().contains(SimCluster.SECONDARY_ADDRESS)) {
          report(e.number());
        }
        continue;
      }
      if (e.state() != EpochState.COMMITTED) {
        return; // epochs apply in order
      }
      if (e.number() != appliedEpoch + 1) {
        world.violation("epoch " + e.number() + " committed before " + (appliedEpoch + 1)
            + " was applied");
      }
      apply(e);
      report(e.number());
    }
  }

  /** Applies one committed epoch whole: every portion of it, then the check of what depends on what. */
  private void apply(EpochRecord e) {
    for (Portion p : e.watermarks().keySet()) {
      List<SimUpdate> updates = staged.remove(new PortionEpoch(p, e.number()));
      if (updates == null) {
        world.violation("epoch " + e.number() + " committed without " + p + " staged here");
        return;
      }
      for (SimUpdate u : updates) {
        applied.computeIfAbsent(u.key(), k -> new HashSet<>()).add(e.number());
        String[] key = u.key().split("/");
        appliedByPrimary.computeIfAbsent(key[0], k -> new TreeSet<>()).add(Long.parseLong(key[1]));
      }
    }
    appliedEpoch = e.number();
    // each primary writes a chain (the next write only after the last one's ack): whatever is
    // applied of it must be a prefix, or the DR image holds a write without its predecessor
    appliedByPrimary.forEach((primary, seqs) -> {
      if (seqs.last() != seqs.size()) {
        long missing = 1;
        while (seqs.contains(missing)) {
          missing++;
        }
        world.violation("after epoch " + e.number() + " the secondary holds " + primary + "/"
            + seqs.last() + " without its predecessor " + primary + "/" + missing);
      }
    });
  }

  private void report(long epoch) {
    if (reporting.add(epoch)) {
      world.control.propose(SimCluster.SECONDARY, Command.newBuilder().setEpochApplied(
              EpochApplied.newBuilder().setEpoch(epoch).setSecondary(SimCluster.SECONDARY_ADDRESS))
          .build(), o -> reporting.remove(epoch));
    }
  }
}
