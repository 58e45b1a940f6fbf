package dev.ferry.node.sim;

import dev.ferry.control.ClusterState;
import dev.ferry.control.EpochRecord;
import dev.ferry.control.Member;
import dev.ferry.control.Portion;
import dev.ferry.control.VolumeAssignment;
import dev.ferry.node.data.state.EpochGate;
import dev.ferry.node.data.state.HeldAcks;
import dev.ferry.node.data.state.ParkedWrites;
import dev.ferry.node.data.state.PortionEpoch;
import dev.ferry.node.coordinator.BarrierPlan;
import dev.ferry.node.data.state.Sequencer;
import dev.ferry.proto.control.CloseEpoch;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.CommitEpoch;
import dev.ferry.proto.control.EpochStaged;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.PortionRef;
import dev.ferry.proto.control.ReassignPortions;
import dev.ferry.proto.control.RoundMember;
import dev.ferry.proto.control.Watermark;
import dev.ferry.proto.peer.FreezeReply;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One Ferry node in the simulation: the data plane's real plain state ({@link EpochGate}, {@link
 * Sequencer}, {@link HeldAcks}, {@link ParkedWrites}) driven by a shell that does what {@code
 * DataPlane} does with it on the owner path (number, journal, mirror, hold the ack until the
 * epoch is released, retry with the same number) and the non-owner path (store, forward, the
 * owner answers the number once its copy is durable, the forwarder journals it and holds the
 * primary's ack until that epoch is released here), the node's half of the barrier (Freeze, Thaw,
 * Seal), staging of closed epochs, and, on the Raft leader, the coordinator's round and commits
 * as {@code EpochBarrier} and {@code EpochCommitter} run them. Everything runs on the simulation's
 * one thread, as on the node's data thread. A crash loses the instance; its restart is a new one
 * built from the {@link SimJournal}, as {@code DataPlane} is rebuilt from its journal.
 */
final class SimNode {
  /** Epochs closed and not yet applied everywhere, past which the leader closes none (cts.max.pending). */
  static final int MAX_PENDING = 8;

  final String id;
  private final SimCluster world;
  private final SimJournal journal;
  ClusterState view;
  /**
   * Whether this process's Raft state has caught up with the log it held at start
   * (RaftNode.controlStateLoaded): until then it joins no barrier.
   */
  private boolean loaded;
  EpochGate gate = EpochGate.AT_START;
  final Sequencer<SimUpdate> sequencer = new Sequencer<>();
  private final HeldAcks<Runnable> heldAcks = new HeldAcks<>(4_096);
  private final ParkedWrites<Runnable> parked = new ParkedWrites<>(4_096);
  private final Map<String, Owned> owned = new HashMap<>();
  private final Set<Owned> inFlight = new LinkedHashSet<>();
  private final List<Runnable> sealsWaiting = new ArrayList<>();
  private final Set<PortionEpoch> staging = new HashSet<>();
  private boolean roundRunning;
  private final Set<Long> committing = new HashSet<>();

  /** An update this node numbered as owner, and where its copies stand. */
  private static final class Owned {
    final SimWrite write;
    final long epoch;
    final long n;
    boolean durable;
    boolean attempting;
    boolean copied;
    /** A forwarder waiting for this copy to be durable, to get the number. */
    Runnable onDurable;
    Owned(SimWrite write, long epoch, long n) {
      this.write = write;
      this.epoch = epoch;
      this.n = n;
    }
  }

  /** A number given by an owner, as it answers a forwarder. */
  record Seq(long epoch, long n) {}

  /** A write this node stores for its owner and forwards to it (the non-owner path). */
  private static final class Forwarded {
    final SimWrite write;
    boolean durable;
    boolean attempting;
    /** The owner's number, once it answered; then journaled (SEQUENCED) before the ack. */
    Seq seq;
    boolean sequenced;
    Consumer<Result<Long>> reply;
    Forwarded(SimWrite write) {
      this.write = write;
    }
  }

  private final Map<String, Forwarded> forwarded = new HashMap<>();
  private final Set<Forwarded> forwardsInFlight = new LinkedHashSet<>();

  /** A process starting on {@code journal}: it replays what is durable there. */
  SimNode(String id, SimCluster world, SimJournal journal, boolean loaded) {
    this.id = id;
    this.world = world;
    this.journal = journal;
    this.loaded = loaded;
    this.view = world.control.at(journal.raftIndex);
    for (SimJournal.Owned r : journal.owned) {
      SimWrite w = r.write();
      sequencer.add(w.portion(), r.epoch(),
          new SimUpdate(w.key(), r.n(), w.offset(), w.length(), w.crc32c()));
      Owned o = new Owned(w, r.epoch(), r.n());
      o.durable = true; // copies not known: a retry mirrors it again with its number
      owned.put(w.key(), o);
    }
  }

  /** The Raft log replayed after a restart: from now on it may join a barrier. */
  void caughtUp() {
    onCommitted(world.control.lastIndex());
    loaded = true;
  }

  // ---- writes (owner path) ----

  void onWrite(SimWrite w, Consumer<Result<Long>> reply) {
    if (!owns(w.portion())) {
      forwardToOwner(w, reply);
      return;
    }
    Owned o = owned.get(w.key());
    if (o != null) {
      if (o.copied) {
        release(o, reply);
      } else if (o.attempting) {
        reply.accept(Result.fail("in flight; retry"));
      } else {
        // the mirror failed, or it came forwarded (the forwarder's copy counted then, not now):
        // the same number to the mirror again
        attempt(o, reply);
      }
      return;
    }
    Owned fresh = number(w, why -> reply.accept(Result.fail(why)), () -> onWrite(w, reply));
    if (fresh != null) {
      attempt(fresh, reply);
    }
  }

  private boolean owns(Portion p) {
    return id.equals(view.assignment().get(p.volume()).owner(p.region()));
  }

  /**
   * Numbers {@code w} as its owner and journals it, or says why not ({@code refuse}), or parks it
   * ({@code whenClosed} runs again once its portion's move has closed): null then.
   */
  private Owned number(SimWrite w, Consumer<String> refuse, Runnable whenClosed) {
    if (!gate.inBarrier()) {
      refuse.accept("in no barrier yet");
      return null;
    }
    long epoch = gate.numberingEpoch(view.openEpoch());
    if (gate.mustWaitForClose(w.portion(), epoch, view.openEpoch())) {
      world.faults.exercised("write parked until its portion's move closes");
      if (!parked.park(whenClosed)) {
        refuse.accept("too many parked");
      }
      return null;
    }
    long n = sequencer.next(w.portion(), epoch);
    world.numbered(this, w, epoch, n);
    sequencer.add(w.portion(), epoch, new SimUpdate(w.key(), n, w.offset(), w.length(), w.crc32c()));
    Owned fresh = new Owned(w, epoch, n);
    owned.put(w.key(), fresh);
    world.net.timer(id, world.sim.between(20, 800), "journal " + w.key(), () -> {
      fresh.durable = true;
      journal.owned.add(new SimJournal.Owned(w, epoch, n));
      world.durable(this, w, epoch, n);
      if (fresh.onDurable != null) {
        fresh.onDurable.run();
      }
      settle(fresh, null);
    });
    return fresh;
  }

  // ---- writes (non-owner path: store, forward, hold the ack as the owner's epoch says) ----

  private void forwardToOwner(SimWrite w, Consumer<Result<Long>> reply) {
    Forwarded f = forwarded.get(w.key());
    if (f != null && f.sequenced) {
      releaseForwarded(f, reply);
      return;
    }
    if (f != null && f.attempting) {
      reply.accept(Result.fail("in flight; retry"));
      return;
    }
    if (f == null) {
      Forwarded copy = new Forwarded(w);
      forwarded.put(w.key(), copy);
      world.net.timer(id, world.sim.between(20, 800), "journal forwarded " + w.key(), () -> {
        copy.durable = true;
        settleForward(copy);
      });
      f = copy;
    }
    Forwarded copy = f;
    copy.attempting = true;
    copy.reply = reply;
    forwardsInFlight.add(copy);
    world.faults.exercised("write forwarded to its owner");
    String owner = view.assignment().get(w.portion().volume()).owner(w.portion().region());
    world.<Seq>call(id, owner, "forward " + w.key(), 30_000, (n, r) -> n.onForward(w, r), r -> {
      if (!copy.attempting) {
        return;
      }
      if (!r.isOk()) {
        // never acknowledged: dropped; a retry stores it again (DataPlane.dropUnnumbered)
        copy.attempting = false;
        forwardsInFlight.remove(copy);
        forwarded.remove(w.key(), copy);
        copy.reply.accept(Result.fail("forward: " + r.error()));
        sealsWaiting();
        return;
      }
      copy.seq = r.value();
      settleForward(copy);
    });
  }

  /** Own copy durable and the number known: journal the number, then the ack (as the epoch allows). */
  private void settleForward(Forwarded f) {
    if (!f.attempting || !f.durable || f.seq == null) {
      return;
    }
    world.net.timer(id, world.sim.between(20, 800), "journal sequenced " + f.write.key(), () -> {
      f.sequenced = true;
      f.attempting = false;
      forwardsInFlight.remove(f);
      releaseForwarded(f, f.reply);
      sealsWaiting();
    });
  }

  /** The forwarder holds the primary's ack until the epoch of the owner's number is released here. */
  private void releaseForwarded(Forwarded f, Consumer<Result<Long>> reply) {
    if (f.seq.epoch() <= gate.releasableEpoch(view.openEpoch())) {
      world.acked(this, f.write, f.seq.epoch(), f.seq.n());
      reply.accept(Result.ok(f.seq.epoch()));
    } else if (!heldAcks.hold(f.seq.epoch(), () -> releaseForwarded(f, reply))) {
      reply.accept(Result.fail("too many held acks"));
    }
  }

  /** The owner's side of a forward: number and journal it, answer the number once durable. */
  void onForward(SimWrite w, Consumer<Result<Seq>> reply) {
    if (!owns(w.portion())) {
      reply.accept(Result.fail("not the owner"));
      return;
    }
    Owned o = owned.get(w.key());
    if (o != null) {
      if (o.durable) {
        answerForward(o, reply);
      } else {
        reply.accept(Result.fail("in flight; retry"));
      }
      return;
    }
    Owned fresh = number(w, why -> reply.accept(Result.fail(why)), () -> onForward(w, reply));
    if (fresh == null) {
      return;
    }
    inFlight.add(fresh);
    fresh.onDurable = () -> {
      inFlight.remove(fresh);
      answerForward(fresh, reply);
      sealsWaiting();
    };
  }

  private void answerForward(Owned o, Consumer<Result<Seq>> reply) {
    if (ownsOrClosed(o)) {
      reply.accept(Result.ok(new Seq(o.epoch, o.n)));
    } else {
      reply.accept(Result.fail("no longer the owner"));
    }
  }

  private final Map<Owned, Consumer<Result<Long>>> replies = new HashMap<>();

  /** Sends the owned update, with its number, to the portion's mirror. */
  private void attempt(Owned o, Consumer<Result<Long>> reply) {
    o.attempting = true;
    inFlight.add(o);
    replies.put(o, reply);
    String mirror = view.assignment().get(o.write.portion().volume())
        .mirrors(o.write.portion().region()).get(0);
    world.<Boolean>call(id, mirror, "mirror " + o.write.key() + " " + o.epoch + "/" + o.n, 20_000,
        (m, r) -> m.onMirror(o.write, o.epoch, o.n, r),
        r -> settle(o, r));
  }

  /** A journal write or a mirror answer came: the copies are made, failed, or still pending. */
  private void settle(Owned o, Result<Boolean> mirrorAnswer) {
    if (!o.attempting) {
      return;
    }
    if (mirrorAnswer != null && !mirrorAnswer.isOk()) {
      o.attempting = false;
      inFlight.remove(o);
      replies.remove(o).accept(Result.fail("mirror: " + mirrorAnswer.error()));
      sealsWaiting();
      return;
    }
    if (mirrorAnswer != null) {
      o.copied = true; // the mirror's copy; the answer only says it is durable there
    }
    if (o.copied && o.durable) {
      o.attempting = false;
      inFlight.remove(o);
      Consumer<Result<Long>> reply = replies.remove(o);
      if (ownsOrClosed(o)) {
        if (!id.equals(view.assignment().get(o.write.portion().volume())
            .owner(o.write.portion().region()))) {
          world.faults.exercised("ack by a former owner, from a closed watermark");
        }
        release(o, reply);
      } else {
        reply.accept(Result.fail("no longer the owner"));
      }
      sealsWaiting();
    }
  }

  /**
   * DataPlane.fenced: an owner acknowledges only while it still owns the portion, or once the
   * update is in a closed epoch's watermark (it is applied whoever owns the portion now).
   */
  private boolean ownsOrClosed(Owned o) {
    Portion p = o.write.portion();
    if (id.equals(view.assignment().get(p.volume()).owner(p.region()))) {
      return true;
    }
    EpochRecord e = view.epochs().get(o.epoch);
    Watermark w = e == null ? null : e.watermarks().get(p);
    return w != null && w.getLastN() >= o.n;
  }

  /** The ack, now or once its epoch is released (Thaw, or the close applied here). */
  private void release(Owned o, Consumer<Result<Long>> reply) {
    if (o.epoch <= gate.releasableEpoch(view.openEpoch())) {
      world.acked(this, o.write, o.epoch, o.n);
      reply.accept(Result.ok(o.epoch));
    } else if (!heldAcks.hold(o.epoch, () -> release(o, reply))) {
      reply.accept(Result.fail("too many held acks"));
    }
  }

  private void releaseHeldAcks() {
    heldAcks.releaseThrough(gate.releasableEpoch(view.openEpoch())).forEach(Runnable::run);
  }

  void onMirror(SimWrite w, long epoch, long n, Consumer<Result<Boolean>> reply) {
    world.net.timer(id, world.sim.between(20, 800), "journal mirror " + w.key(),
        () -> reply.accept(Result.ok(true)));
  }

  // ---- the node's half of the barrier ----

  /** Freeze(N) naming the portions that move with its close: answers those numbered after N. */
  void onFreeze(long epoch, List<Portion> moving, Consumer<Result<List<Portion>>> reply) {
    gate = gate.frozen(epoch, moving);
    if (!gate.inBarrier() && loaded) {
      gate = gate.joined(); // DataPlane.joinBarrier: nothing to redo without failures
    }
    reply.accept(Result.ok(sequencer.numberedAfter(epoch, moving)));
  }

  void onThaw(long epoch) {
    gate = gate.thawed(epoch);
    releaseHeldAcks();
  }

  void onSeal(long epoch, Consumer<Result<List<Watermark>>> reply) {
    if (!gate.sealable(epoch)) {
      reply.accept(Result.fail("not frozen through " + epoch));
      return;
    }
    Runnable check = new Runnable() {
      @Override
      public void run() {
        if (inFlight.stream().noneMatch(o -> o.epoch <= epoch) && forwardsInFlight.stream()
            .noneMatch(f -> f.seq == null || f.seq.epoch() <= epoch)) {
          sealsWaiting.remove(this);
          reply.accept(Result.ok(sequencer.watermarks(epoch)));
        }
      }
    };
    sealsWaiting.add(check);
    check.run();
  }

  private void sealsWaiting() {
    List.copyOf(sealsWaiting).forEach(Runnable::run);
  }

  // ---- applied states ----

  void onCommitted(int index) {
    if (index <= journal.raftIndex) {
      return;
    }
    journal.raftIndex = index;
    view = world.control.at(index);
    gate = gate.stateApplied(view.openEpoch());
    releaseHeldAcks();
    parked.drain().forEach(Runnable::run);
    sequencer.releaseThrough(view.consistentEpoch());
    stageClosedEpochs();
    if (leads()) {
      commitStagedEpochs();
    }
  }

  /**
   * As DataPlane.transferTick, every second: staging must not depend on states coming, since
   * none come while the barrier is held back by cts.max.pending (without it the first
   * simulation runs wedged after one lost Stage).
   */
  void transferTick() {
    stageClosedEpochs();
  }

  /** Sends each closed epoch's updates of the portions numbered here to the secondary. */
  private void stageClosedEpochs() {
    staging.removeIf(pe -> {
      EpochRecord e = view.epochs().get(pe.epoch());
      return e == null || e.state() != EpochState.CLOSED || e.staged().contains(pe.portion());
    });
    for (EpochRecord e : view.epochs().values()) {
      if (e.state() != EpochState.CLOSED) {
        continue;
      }
      for (Portion p : e.watermarks().keySet()) {
        List<SimUpdate> updates = sequencer.updates(p, e.number());
        PortionEpoch pe = new PortionEpoch(p, e.number());
        if (updates == null || e.staged().contains(p) || !staging.add(pe)) {
          continue;
        }
        Watermark sealed = e.watermarks().get(p);
        world.<Boolean>call(id, SimCluster.SECONDARY, "stage " + pe, 50_000,
            (s, r) -> world.secondary.onStage(e.number(), p, updates, sealed, r),
            r -> {
              if (!r.isOk()) {
                staging.remove(pe);
                return;
              }
              world.control.propose(id, Command.newBuilder().setEpochStaged(EpochStaged.newBuilder()
                  .setEpoch(e.number()).addPortions(PortionRef.newBuilder().setVolume(p.volume())
                      .setRegion(p.region()))).build(), o -> staging.remove(pe));
            });
      }
    }
  }

  /** The leader commits the first staged epoch after the committed ones (EpochCommitter). */
  private void commitStagedEpochs() {
    for (EpochRecord e : view.epochs().values()) {
      if (e.state() == EpochState.COMMITTED) {
        continue;
      }
      if (e.state() == EpochState.STAGED && committing.add(e.number())) {
        world.control.propose(id, Command.newBuilder().setCommitEpoch(CommitEpoch.newBuilder()
            .setEpoch(e.number())).build(), o -> committing.remove(e.number()));
      }
      return;
    }
  }

  // ---- the coordinator, while this node leads ----

  /**
   * The leader and term as this process last heard of them: a leader paused or cut off goes on
   * believing it leads (and runs its round) until it hears of the next term.
   */
  private String believedLeader;
  private long believedTerm;

  void heardOfLeader(String leader, long term) {
    if (term > believedTerm) {
      believedLeader = leader;
      believedTerm = term;
    }
  }

  private boolean leads() {
    return id.equals(believedLeader);
  }

  /**
   * One barrier round, as EpochBarrier runs it, with its decisions from {@link BarrierPlan}: the
   * planned change (joins, drains), Freeze naming the moving portions, the change dropped if an
   * owner numbered one of them ahead, Thaw, Seal, CloseEpoch with the change (or without it if
   * it is refused).
   */
  void coordinatorTick() {
    if (!leads() || roundRunning) {
      return;
    }
    commitStagedEpochs();
    ClusterState s = view;
    ReassignPortions planned = BarrierPlan.plannedChange(s);
    if (BarrierPlan.holdsBack(s, planned, MAX_PENDING)) {
      return;
    }
    List<Member> members = BarrierPlan.roundMembers(s);
    List<Portion> moving = BarrierPlan.movingPortions(s, planned).stream()
        .map(r -> new Portion(r.getVolume(), (int) r.getRegion())).toList();
    long epoch = s.openEpoch();
    long term = believedTerm;
    long closedAt = world.sim.now() / 1000;
    roundRunning = true;
    world.<List<Portion>>askAll(id, members, "freeze " + epoch + " moving " + moving, 30_000,
        (n, r) -> n.onFreeze(epoch, moving, r), frozen -> {
          if (frozen == null) {
            roundRunning = false;
            return;
          }
          ReassignPortions change = BarrierPlan.changeAfterFreeze(planned, frozen.stream()
              .map(numberedAfter -> FreezeReply.newBuilder().addAllNumberedAfter(numberedAfter
                  .stream().map(p -> PortionRef.newBuilder().setVolume(p.volume())
                      .setRegion(p.region()).build()).toList()).build()).toList());
          for (Member m : members) {
            world.net.send(id, m.id(), "thaw " + epoch, () -> world.node(m.id()).onThaw(epoch));
          }
          world.<List<Watermark>>askAll(id, members, "seal " + epoch, 500_000,
              (n, r) -> n.onSeal(epoch, r), sealed -> {
                if (sealed == null || !leads()) {
                  roundRunning = false;
                  return;
                }
                List<Watermark> marks = new ArrayList<>();
                sealed.forEach(marks::addAll);
                CloseEpoch.Builder close = CloseEpoch.newBuilder().setEpoch(epoch)
                    .setClosedAtMillis(closedAt).addAllWatermarks(BarrierPlan.merge(view, marks))
                    .setLeaderTerm(term).addAllSealedBy(members.stream().map(m -> RoundMember
                        .newBuilder().setId(m.id()).setIncarnation(m.incarnation()).build())
                        .toList());
                if (change != null) {
                  close.setNextAssignment(change);
                  world.faults.exercised("close with an assignment change");
                } else if (planned != null) {
                  world.faults.exercised("change dropped: a moving portion numbered ahead");
                }
                world.control.propose(id, Command.newBuilder().setCloseEpoch(close).build(), o -> {
                  if (!o.accepted() && change != null && o.state().openEpoch() == epoch) {
                    // the change was refused (the assignment moved since): close without it
                    world.control.propose(id, Command.newBuilder()
                        .setCloseEpoch(close.clearNextAssignment()).build(), o2 -> roundRunning = false);
                    return;
                  }
                  roundRunning = false;
                });
              });
        });
  }
}
