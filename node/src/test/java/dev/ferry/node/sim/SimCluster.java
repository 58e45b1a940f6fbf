package dev.ferry.node.sim;

import dev.ferry.control.AssignmentPolicy;
import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterTransitions;
import dev.ferry.control.Member;
import dev.ferry.control.Outcome;
import dev.ferry.control.Portion;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CreateVolume;
import dev.ferry.proto.control.Drain;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RegisterMember;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * One seeded run: three nodes, a secondary and four primaries writing dependent chains, on a
 * simulated network and Raft group, with faults (lost and slow messages, paused processes,
 * partitions, leader changes, crashes) for {@link #FAULTY_MICROS}, then calm for {@link
 * #CALM_MICROS}. Some seeds start a fourth node that joins, some drain one of the three: the
 * portions that move with those closes exercise the barrier's moving-portion rules.
 * After every event that matters it checks DESIGN.md §5's promises; a broken one stops the run
 * with a {@link Violation} naming the seed.
 */
final class SimCluster {
  static final String SECONDARY = "dr";
  /** The node some seeds start during the run, to join. */
  static final String JOINER = "n4";
  static final String SECONDARY_ADDRESS = "dr.ferry.test:9000";
  static final long REGION = 1 << 20;
  static final int REGIONS = 6;
  static final long FAULTY_MICROS = 1_500_000;
  static final long CALM_MICROS = 3_000_000;

  /** A promise broken in a run. */
  static final class Violation extends RuntimeException {
    Violation(String message) {
      super(message);
    }
  }

  final Simulator sim;
  final Faults faults = new Faults();
  final SimNetwork net;
  final SimControl control;
  final SimSecondary secondary;
  private final Map<String, SimNode> nodes = new LinkedHashMap<>();
  private final Map<String, SimJournal> journals = new HashMap<>();
  private final List<Primary> primaries = new ArrayList<>();
  /** (portion, epoch, n) to the write numbered so: a number is never given to two writes. */
  private final Map<String, String> numbers = new HashMap<>();
  /** Writes whose ack a primary received, and its epoch. */
  final Map<String, Long> ackedAtPrimary = new HashMap<>();
  private long highestAckSeen;
  private boolean calm;

  SimCluster(long seed) {
    sim = new Simulator(seed);
    net = new SimNetwork(sim, faults);
    faults.lossRate = sim.random.nextDouble() * 0.02;
    faults.slowRate = sim.random.nextDouble() * 0.05;
    faults.pauseRate = sim.random.nextDouble() * 0.03;
    faults.partitionRate = sim.random.nextDouble() * 0.03;
    faults.leaderChangeRate = sim.random.nextDouble() * 0.02;
    faults.crashRate = sim.random.nextDouble() * 0.02;
    List<String> ids = List.of("n1", "n2", "n3");
    ClusterState initial = initialState(ids);
    List<String> processes = new ArrayList<>(ids);
    processes.add(JOINER);
    processes.add(SECONDARY);
    journals.put(JOINER, new SimJournal());
    net.crash(JOINER); // not started yet
    control = new SimControl(sim, net, faults, initial, processes, "n1", this::committed);
    for (String id : ids) {
      journals.put(id, new SimJournal());
      nodes.put(id, new SimNode(id, this, journals.get(id), true));
    }
    secondary = new SimSecondary(this);
    for (int i = 1; i <= 4; i++) {
      primaries.add(new Primary("p" + i));
    }
  }

  private static ClusterState initialState(List<String> ids) {
    ClusterState s = ClusterState.EMPTY;
    for (String id : ids) {
      s = apply(s, Command.newBuilder().setRegisterMember(RegisterMember.newBuilder().setId(id)
          .setAddress(id + ".ferry.test:7000").setIncarnation(1)).build());
    }
    s = apply(s, Command.newBuilder().setReassignPortions(ReassignPortions.newBuilder()
        .setBaseVersion(s.assignmentVersion()).addAllActivate(ids)
        .addAllChanges(AssignmentPolicy.plan(s, ids))).build());
    return apply(s, Command.newBuilder().setCreateVolume(CreateVolume.newBuilder().setName("v")
        .setSizeBytes(REGIONS * REGION).setRegionSizeBytes(REGION).setSecondary(SECONDARY_ADDRESS))
        .build());
  }

  private static ClusterState apply(ClusterState s, Command c) {
    Outcome o = ClusterTransitions.apply(s, c);
    if (!o.accepted()) {
      throw new IllegalStateException(((Outcome.Rejected) o).reason());
    }
    return o.state();
  }

  SimNode node(String id) {
    return nodes.get(id);
  }

  /** Runs the whole seed; throws {@link Violation} at the first broken promise. */
  void run() {
    nodes.keySet().forEach(this::startTicks);
    control.onLeader((p, leader, term) -> {
      if (nodes.containsKey(p)) {
        nodes.get(p).heardOfLeader(leader, term);
      }
    });
    heartbeat();
    if (sim.chance(0.5)) {
      sim.after(sim.between(100_000, FAULTY_MICROS), "start " + JOINER, this::startJoiner);
    }
    if (sim.chance(0.5)) {
      String leaving = List.of("n1", "n2", "n3").get(sim.random.nextInt(3));
      sim.after(sim.between(100_000, FAULTY_MICROS), "drain " + leaving, () -> {
        faults.count("drain");
        sim.note("drain " + leaving);
        control.propose(SECONDARY, Command.newBuilder().setDrain(Drain.newBuilder()
            .setId(leaving)).build(), o -> { });
      });
    }
    primaries.forEach(p -> sim.after(sim.between(0, 5_000), p.id + " starts", p::issueNext));
    faultTick();
    sim.runUntil(FAULTY_MICROS);
    calm = true;
    faults.calm();
    net.heal();
    sim.runUntil(FAULTY_MICROS + CALM_MICROS);
    checkEverythingArrived();
  }

  private void startTicks(String id) {
    tick(id, "coordinator", sim.between(10_000, 40_000), () -> nodes.get(id).coordinatorTick());
    tick(id, "transfer", 1_000_000, () -> nodes.get(id).transferTick());
  }

  /** A new node starts, registers (JOINING), and is activated by a barrier round's close. */
  private void startJoiner() {
    faults.count("join");
    net.restart(JOINER);
    sim.note("start " + JOINER);
    nodes.put(JOINER, new SimNode(JOINER, this, journals.get(JOINER), false));
    startTicks(JOINER);
    net.timer(JOINER, sim.between(1_000, 20_000), "Raft log replayed",
        () -> nodes.get(JOINER).caughtUp());
    control.propose(JOINER, Command.newBuilder().setRegisterMember(RegisterMember.newBuilder()
        .setId(JOINER).setAddress(JOINER + ".ferry.test:7000").setIncarnation(1)).build(), o -> { });
  }

  /** kill -9 of a node, restarted later on its journal; Raft elects another leader if it led. */
  private void crash(String id) {
    net.crash(id);
    faults.count("crash");
    sim.note("crash " + id);
    if (id.equals(control.leader())) {
      control.electNewLeader(nodes.keySet().stream().filter(n -> !net.isDown(n)).toList());
    }
    sim.after(sim.between(20_000, 500_000), "restart " + id, () -> {
      net.restart(id);
      sim.note("restart " + id + " at Raft index " + journals.get(id).raftIndex);
      nodes.put(id, new SimNode(id, this, journals.get(id), false));
      startTicks(id);
      net.timer(id, sim.between(1_000, 20_000), "Raft log replayed", () -> nodes.get(id).caughtUp());
    });
  }

  /** Raft heartbeats every 20 ms, whoever leads. */
  private void heartbeat() {
    control.announce();
    sim.after(20_000, "heartbeat", this::heartbeat);
  }

  private void tick(String at, String what, long period, Runnable action) {
    net.timer(at, period, what, () -> {
      action.run();
      tick(at, what, period, action);
    });
  }

  private void faultTick() {
    if (calm) {
      return;
    }
    List<String> processes = new ArrayList<>(nodes.keySet());
    processes.add(SECONDARY);
    if (sim.chance(faults.pauseRate)) {
      String p = processes.get(sim.random.nextInt(processes.size()));
      long micros = sim.between(5_000, 800_000);
      net.pause(p, micros);
      faults.count("pause");
      sim.note("pause " + p + " for " + micros / 1000 + " ms");
    }
    if (sim.chance(faults.partitionRate)) {
      String a = processes.get(sim.random.nextInt(processes.size()));
      String b = processes.get(sim.random.nextInt(processes.size()));
      if (!a.equals(b)) {
        net.partition(a, b);
        faults.count("partition");
        sim.note("partition " + a + " | " + b);
        sim.after(sim.between(10_000, 500_000), "heal " + a + " | " + b, () -> net.unpartition(a, b));
      }
    }
    if (sim.chance(faults.leaderChangeRate)) {
      control.electNewLeader(nodes.keySet().stream().filter(n -> !net.isDown(n)).toList());
    }
    if (sim.chance(faults.crashRate)) {
      List<String> up = nodes.keySet().stream().filter(n -> !net.isDown(n)).toList();
      if (up.size() > 1) {
        crash(up.get(sim.random.nextInt(up.size())));
      }
    }
    sim.after(10_000, "fault tick", this::faultTick);
  }

  private void committed(String process, int index) {
    if (process.equals(SECONDARY)) {
      secondary.onCommitted(index);
    } else if (nodes.containsKey(process)) {
      nodes.get(process).onCommitted(index);
    }
  }

  // ---- calls between processes ----

  /**
   * A call from {@code from} to node or secondary {@code to}: the request and the answer each
   * cross the network; the caller gets the first of the answer and its deadline.
   */
  <T> void call(String from, String to, String what, long deadlineMicros,
      BiConsumer<SimNode, Consumer<Result<T>>> handler, Consumer<Result<T>> onAnswer) {
    boolean[] answered = {false};
    Consumer<Result<T>> once = r -> {
      if (!answered[0]) {
        answered[0] = true;
        onAnswer.accept(r);
      }
    };
    net.send(from, to, what, () -> handler.accept(nodes.get(to),
        r -> net.send(to, from, what + (r.isOk() ? " ok" : " failed: " + r.error()),
            () -> once.accept(r))));
    net.timer(from, deadlineMicros, what + " deadline",
        () -> once.accept(Result.fail("deadline exceeded")));
  }

  /** The same call to every member; {@code onAll} gets every answer, or null once one failed. */
  <T> void askAll(String from, List<Member> members, String what, long deadlineMicros,
      BiConsumer<SimNode, Consumer<Result<T>>> handler, Consumer<List<T>> onAll) {
    List<T> answers = new ArrayList<>();
    boolean[] over = {false};
    for (Member m : members) {
      call(from, m.id(), what, deadlineMicros, handler, r -> {
        if (over[0]) {
          return;
        }
        if (!r.isOk()) {
          over[0] = true;
          onAll.accept(null);
          return;
        }
        answers.add(r.value());
        if (answers.size() == members.size()) {
          over[0] = true;
          onAll.accept(answers);
        }
      });
    }
  }

  // ---- the checks ----

  void violation(String what) {
    throw new Violation(what);
  }

  /**
   * A node's record of number n of a portion's epoch is durable: no other write may ever hold
   * that number durably (a number given but lost in a crash before it was written is void).
   */
  void durable(SimNode at, SimWrite w, long epoch, long n) {
    String number = w.portion() + " " + epoch + "/" + n;
    String before = numbers.putIfAbsent(number, w.key());
    if (before != null && !before.equals(w.key())) {
      violation(number + " given to " + before + " and to " + w.key());
    }
  }

  /** A node gave number n of a portion's epoch to a write. */
  void numbered(SimNode at, SimWrite w, long epoch, long n) {
    sim.note(at.id + " numbers " + w.key() + " " + epoch + "/" + n + " in " + w.portion());
    if (epoch < w.floor()) {
      violation(w.key() + " numbered in epoch " + epoch + " though it was issued after an ack of"
          + " epoch " + w.floor() + ": applying epoch " + epoch + " would hold it without what"
          + " it may depend on");
    }
  }

  /** An owner sends the ack of a write numbered in {@code epoch}. */
  void acked(SimNode at, SimWrite w, long epoch, long n) {
    sim.note(at.id + " acks " + w.key() + " " + epoch + "/" + n);
    for (SimNode other : nodes.values()) {
      if (net.isDown(other.id)) {
        continue; // it numbers nothing until a Freeze after its restart
      }
      long could = other.gate.numberingEpoch(other.view.openEpoch());
      if (other.gate.inBarrier() && could < epoch) {
        violation(at.id + " acks " + w.key() + " of epoch " + epoch + " while " + other.id
            + " may still number in epoch " + could + " (gate " + other.gate + ", open epoch "
            + other.view.openEpoch() + ")");
      }
    }
  }

  /** At the end, after the calm: every write acked, and the secondary holds every one. */
  private void checkEverythingArrived() {
    for (Primary p : primaries) {
      if (p.pending != null) {
        violation(p.id + "'s write " + p.pending.key() + " was never acknowledged: wedged");
      }
    }
    long consistent = control.committed().consistentEpoch();
    if (consistent < highestAckSeen) {
      violation("the consistent point is at epoch " + consistent + " after "
          + CALM_MICROS / 1000 + " calm ms, behind acks of epoch " + highestAckSeen + ": wedged");
    }
    ackedAtPrimary.forEach((key, epoch) -> {
      // a write retried after its portion moved may be numbered again by the new owner (the
      // same bytes applied again, later): it must at least be applied in the epoch of its ack
      java.util.Set<Long> at = secondary.applied.getOrDefault(key, java.util.Set.of());
      if (!at.contains(epoch)) {
        violation("acknowledged write " + key + " of epoch " + epoch + " is "
            + (at.isEmpty() ? "not at the secondary" : "applied in epoch(s) " + at + " only"));
      }
    });
  }

  long acks() {
    return ackedAtPrimary.size();
  }

  long epochsApplied() {
    return secondary.appliedEpoch;
  }

  /** A primary writing one chain: each write only after the last one's ack (a dependency). */
  private final class Primary {
    final String id;
    long clientSeq;
    SimWrite pending;

    Primary(String id) {
      this.id = id;
    }

    void issueNext() {
      if (calm) {
        return; // no new writes in the calm: the ones in flight must finish
      }
      int region = sim.random.nextInt(REGIONS);
      pending = new SimWrite(id, ++clientSeq, new Portion("v", region),
          region * REGION + sim.between(0, 255) * 4096, 4096, highestAckSeen);
      send(pending);
    }

    void send(SimWrite w) {
      // most writes go to the owner the primary knows; some to any node, which forwards them
      String owner = control.committed().assignment().get("v").owner(w.portion().region());
      if (sim.chance(0.3)) {
        List<String> any = List.copyOf(nodes.keySet());
        owner = any.get(sim.random.nextInt(any.size()));
      }
      String to = owner;
      SimCluster.this.<Long>call(id, to, "write " + w.key(), 100_000, (n, r) -> n.onWrite(w, r), r -> {
        if (!r.isOk()) {
          net.timer(id, sim.between(2_000, 20_000), "retry " + w.key(), () -> send(w));
          return;
        }
        Long before = ackedAtPrimary.put(w.key(), r.value());
        if (before != null && !before.equals(r.value())) {
          violation(w.key() + " acknowledged in epoch " + before + " and then " + r.value());
        }
        highestAckSeen = Math.max(highestAckSeen, r.value());
        pending = null;
        net.timer(id, sim.between(0, 3_000), "think", this::issueNext);
      });
    }
  }
}
