package dev.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.control.ratis.SnapshotFile;
import dev.ferry.proto.control.Command;
import dev.ferry.proto.control.EpochState;
import dev.ferry.proto.control.MemberState;
import dev.ferry.proto.control.PortionPlacement;
import dev.ferry.proto.control.RejectCode;
import dev.ferry.proto.control.Watermark;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Assume;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.statistics.Statistics;

/**
 * Random command sequences against the pure transition function. After every step: placement
 * invariants, balance, rejected commands leave the state untouched, movement bounds for failures
 * and single activations, snapshot and codec round trips; at the end, a replay from EMPTY gives
 * the same bytes.
 */
class ClusterStatePropertiesTest {
  private static final Path SNAPSHOT_PATH = Path.of("/nonexistent/snapshot.prop");
  private static final long MIB = 1L << 20;
  private static final int IDS = 8; // members n0..n7 get registered; n8, n9 never exist
  private static final int VOLUME_NAMES = 6; // v0..v5 get created; v6 never exists

  // ---- operations: turned into a command against the current state ----

  sealed interface Op {}

  /** Registers n{k}: new (incarnation 1), rejoin after failure (+1), or the same again. */
  record Register(int k) implements Op {}

  /** The coordinator activates one JOINING member (the pick-th, if any) with the planned delta. */
  record ActivateOne(int pick) implements Op {}

  /** The coordinator activates every JOINING member at once. */
  record ActivateAll() implements Op {}

  record Fail(int k) implements Op {}

  record DrainOp(int k) implements Op {}

  record RemoveOp(int k) implements Op {}

  record Create(int name, long size, long regionSize) implements Op {}

  record Delete(int name) implements Op {}

  /** kind 0: stale base version, 1: owner == mirror, 2: unknown member, 3: activate non-JOINING. */
  record BadReassign(int kind, int pick) implements Op {}

  record Close(List<Integer> picks) implements Op {}

  record StageFirst(boolean half) implements Op {}

  record CommitFirst() implements Op {}

  record ApplyFirst() implements Op {}

  /** SetCtsPeriod with this many ms: in range, 0 (back to the config) or out of range. */
  record SetPeriod(long millis) implements Op {}

  /** SetCopies: in range (accepted only while no volume exists) or out of range. */
  record SetCopiesOp(int copies) implements Op {}

  private static Arbitrary<Integer> ids(int bound) {
    return Arbitraries.integers().between(0, bound - 1);
  }

  private static Arbitrary<Op> create() {
    Arbitrary<Integer> names = ids(VOLUME_NAMES);
    Arbitrary<Integer> regions = Arbitraries.integers().between(1, 64);
    Arbitrary<Long> regionSizes = Arbitraries.of(1L, 512L, 4096L, MIB);
    Arbitrary<Long> slacks = Arbitraries.longs().between(0, MIB - 1);
    Arbitrary<Op> valid = Combinators.combine(names, regions, regionSizes, slacks)
        .as((name, r, rs, slack) -> new Create(name, r * rs - slack % rs, rs));
    Arbitrary<Op> zero = Combinators.combine(names, regionSizes)
        .as((name, rs) -> new Create(name, 0, rs));
    Arbitrary<Op> negative = Combinators.combine(names, regions, regionSizes)
        .as((name, r, rs) -> new Create(name, -r * rs, rs));
    Arbitrary<Op> regionTooLarge = Combinators.combine(names, regions, slacks)
        .as((name, r, slack) -> new Create(name, r, r + 1 + slack % 7));
    Arbitrary<Op> noRegionSize = Combinators.combine(names, regions)
        .as((name, r) -> new Create(name, r, 0));
    // near Long.MAX_VALUE: too many regions (2, 1 MiB), one region, or four
    Arbitrary<Op> huge = Combinators.combine(names,
            Arbitraries.of(2L, MIB, Long.MAX_VALUE, Long.MAX_VALUE / 3))
        .as((name, rs) -> new Create(name, Long.MAX_VALUE, rs));
    return Arbitraries.frequencyOf(
        Tuple.of(12, valid),
        Tuple.of(1, zero),
        Tuple.of(1, negative),
        Tuple.of(1, regionTooLarge),
        Tuple.of(1, noRegionSize),
        Tuple.of(1, huge));
  }

  private static Arbitrary<Op> badReassign() {
    return Combinators.combine(Arbitraries.integers().between(0, 3),
        Arbitraries.integers().between(0, 1000)).as(BadReassign::new);
  }

  private static Arbitrary<Op> epochOps() {
    return Arbitraries.frequencyOf(
        Tuple.of(3, Arbitraries.integers().between(0, 1000).list().ofMaxSize(4).map(Close::new)),
        Tuple.of(3, Arbitraries.of(true, false).map(StageFirst::new)),
        Tuple.of(2, Arbitraries.just(new CommitFirst())),
        Tuple.of(2, Arbitraries.just(new ApplyFirst())));
  }

  private static Arbitrary<Op> setPeriod() {
    return Arbitraries.frequencyOf(
        Tuple.of(4, Arbitraries.longs().between(ClusterTransitions.MIN_CTS_PERIOD_MILLIS,
            ClusterTransitions.MAX_CTS_PERIOD_MILLIS)),
        Tuple.of(2, Arbitraries.just(0L)),
        Tuple.of(1, Arbitraries.longs().between(Long.MIN_VALUE, -1)),
        Tuple.of(1, Arbitraries.longs().between(1, ClusterTransitions.MIN_CTS_PERIOD_MILLIS - 1)),
        Tuple.of(1, Arbitraries.longs().between(ClusterTransitions.MAX_CTS_PERIOD_MILLIS + 1,
            Long.MAX_VALUE)))
        .map(SetPeriod::new);
  }

  @Provide
  Arbitrary<List<Op>> anyOps() {
    Arbitrary<Op> op = Arbitraries.frequencyOf(
        Tuple.of(8, ids(IDS).map(Register::new)),
        Tuple.of(6, Arbitraries.integers().between(0, 10).map(ActivateOne::new)),
        Tuple.of(3, Arbitraries.just(new ActivateAll())),
        Tuple.of(3, ids(IDS + 2).map(Fail::new)),
        Tuple.of(2, ids(IDS + 2).map(DrainOp::new)),
        Tuple.of(2, ids(IDS + 2).map(RemoveOp::new)),
        Tuple.of(6, create()),
        Tuple.of(2, ids(VOLUME_NAMES + 1).map(Delete::new)),
        Tuple.of(3, badReassign()),
        Tuple.of(3, epochOps()),
        Tuple.of(1, setPeriod()),
        Tuple.of(2, Arbitraries.integers().between(0, 9).map(SetCopiesOp::new)));
    return op.list().ofMinSize(4).ofMaxSize(40).withSizeDistribution(RandomDistribution.uniform());
  }

  /** Membership churn only: joins, failures, drains and rejoins. */
  @Provide
  Arbitrary<List<Op>> churn() {
    Arbitrary<Op> op = Arbitraries.frequencyOf(
        Tuple.of(4, ids(12).map(Register::new)),
        Tuple.of(5, Arbitraries.integers().between(0, 10).map(ActivateOne::new)),
        Tuple.of(5, ids(12).map(Fail::new)),
        Tuple.of(1, ids(12).map(DrainOp::new)),
        Tuple.of(1, ids(12).map(RemoveOp::new)));
    return op.list().ofMinSize(1).ofMaxSize(16).withSizeDistribution(RandomDistribution.uniform());
  }

  // ---- the properties ----

  @Property(tries = 500)
  void everyStepKeepsTheInvariants(
      @ForAll @IntRange(min = 0, max = 5) int initialMembers,
      @ForAll("anyOps") List<Op> ops) throws IOException {
    Run run = new Run();
    run.startWith(initialMembers);
    for (Op op : ops) {
      run.step(op);
    }
    run.checkReplay();
    // the movement bounds must really be exercised, with portions in place
    requireBoundsExercised(run, 10, 10);
  }

  private static void requireBoundsExercised(Run run, int leavingPercent, int activationPercent) {
    Statistics.label("leaving with portions").collect(run.nonTrivialChecks.contains("leaving"));
    Statistics.label("activation with portions")
        .collect(run.nonTrivialChecks.contains("activation"));
    Statistics.label("leaving with portions")
        .coverage(c -> c.check(true).percentage(p -> p > leavingPercent));
    Statistics.label("activation with portions")
        .coverage(c -> c.check(true).percentage(p -> p > activationPercent));
  }

  @Property(tries = 250)
  void churnOverVolumesKeepsTheInvariantsAndMovementBounds(
      @ForAll @IntRange(min = 2, max = 7) int members,
      @ForAll @IntRange(min = 2, max = 4) int copies,
      @ForAll @Size(min = 1, max = 3) List<@IntRange(min = 1, max = 64) Integer> volumes,
      @ForAll("churn") List<Op> ops) throws IOException {
    Assume.that(copies <= members);
    Run run = new Run();
    run.apply(Cmds.setCopies(copies), null);
    run.startWith(members);
    for (int v = 0; v < volumes.size(); v++) {
      int regions = volumes.get(v);
      long size = regions * MIB - (regions > 1 ? v : 0); // the last region may be short
      run.apply(Cmds.createVolume("v" + v, size, MIB, ""), null);
    }
    assertThat(run.state.activeMemberIds()).hasSize(members);
    assertThat(run.state.volumes()).hasSize(volumes.size());
    for (Op op : ops) {
      run.step(op);
    }
    run.checkReplay();
    // the movement bounds are checked in copies-2 runs only (about half of them)
    requireBoundsExercised(run, 12, 8);
  }

  // ---- one run ----

  private static final class Run {
    final List<Command> commands = new ArrayList<>();
    final List<String> outcomes = new ArrayList<>();
    final TreeSet<String> nonTrivialChecks = new TreeSet<>();

    /** Every run starts from a freshly formatted cluster, so that it can be replayed. */
    ClusterState state = ClusterState.EMPTY;

    /** Registers n0..n{members-1} and activates them as the coordinator does (if any). */
    void startWith(int members) throws IOException {
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < members; i++) {
        ids.add("n" + i);
        apply(Cmds.register("n" + i), null);
      }
      if (members > 0) {
        apply(Cmds.activate(state, ids), null);
      }
    }

    void step(Op op) throws IOException {
      apply(toCommand(state, op), op);
    }

    void apply(Command c, Op op) throws IOException {
      ClusterState before = state;
      Outcome o = ClusterTransitions.apply(before, c);
      commands.add(c);
      outcomes.add(describe(o));
      if (op != null) {
        Statistics.label("op outcome").collect(op.getClass().getSimpleName(), o.accepted());
      }

      if (o instanceof Outcome.Rejected r) {
        assertThat(r.state()).as("state after rejected %s (%s)", c, r.reason()).isSameAs(before);
      }
      if (op == null) {
        assertThat(o.accepted()).as("setup command %s: %s", c, describe(o)).isTrue();
      }
      if (op instanceof BadReassign) {
        assertThat(o.accepted()).as("invalid reassignment %s was accepted", c).isFalse();
      }
      if (op instanceof SetPeriod p) {
        long millis = p.millis();
        boolean valid = millis == 0 || (millis >= ClusterTransitions.MIN_CTS_PERIOD_MILLIS
            && millis <= ClusterTransitions.MAX_CTS_PERIOD_MILLIS);
        assertThat(o.accepted()).as("%s: %s", c, describe(o)).isEqualTo(valid);
        if (valid) {
          assertThat(o.state().ctsPeriodMillis()).isEqualTo(millis);
        } else {
          assertThat(((Outcome.Rejected) o).code()).isEqualTo(RejectCode.INVALID);
        }
      } else {
        assertThat(o.state().ctsPeriodMillis()).as("cts period after %s", c)
            .isEqualTo(before.ctsPeriodMillis());
      }
      if (op instanceof SetCopiesOp k) {
        boolean valid = k.copies() >= ClusterTransitions.MIN_COPIES
            && k.copies() <= ClusterTransitions.MAX_COPIES
            && (before.volumes().isEmpty() || k.copies() == before.copies());
        assertThat(o.accepted()).as("%s: %s", c, describe(o)).isEqualTo(valid);
        assertThat(o.state().copies()).isEqualTo(valid ? k.copies() : before.copies());
      } else if (!c.hasSetCopies()) {
        assertThat(o.state().copies()).as("copies after %s", c).isEqualTo(before.copies());
      }
      if ((op instanceof ActivateOne || op instanceof ActivateAll)
          && c.getReassignPortions().getActivateCount() > 0) {
        assertThat(o.accepted())
            .as("the coordinator's own activation %s: %s", c, describe(o))
            .isTrue();
      }
      state = o.state();
      checkInvariants(state);
      if (o.accepted()) {
        checkMovement(before, c, state);
      }
      checkRoundTrips(state, commands.size());
    }

    void checkMovement(ClusterState before, Command c, ClusterState after) {
      long p = before.portionCount();
      boolean drainPending = before.members().values().stream()
          .anyMatch(m -> m.state() == MemberState.DRAINING && before.assignment().values().stream()
              .anyMatch(a -> a.placementsOf(m.id()) > 0));
      if (drainPending) {
        return; // the step also moves a DRAINING member's portions: beyond these bounds
      }
      if (before.copies() != 2) {
        // the bounds below are derived for one mirror per portion; with more, only the
        // invariants (placement, balance) are checked
        return;
      }
      if (c.hasMarkFailed() || c.hasDrain()) {
        String id = c.hasMarkFailed() ? c.getMarkFailed().getId() : c.getDrain().getId();
        if (before.members().get(id).state() != MemberState.ACTIVE) {
          return;
        }
        // an ACTIVE member leaves (MarkFailed; Drain rebalances the same way): n active before
        int n = before.activeMemberIds().size();
        long ceil = ceilDiv(p, n);
        // The requested bound 2*ceil(P/n) + n on owner-or-mirror changes is not attainable by
        // any balanced policy, so it is loosened to 2*ceil(P/(n-1)) + n (the survivors' share).
        // Why it is inherent: the policy itself lays out an even n as pairs that own and mirror
        // each other (a/b b/a c/d d/c ...). When a fails, its partner b takes part in only the
        // 2P/n portions it shares with a, at most one role (owner or mirror) in each, yet must
        // end up owning >= floor(P/(n-1)) and mirroring >= floor(P/(n-1)); so at least
        // 2*floor(P/(n-1)) portions change, which exceeds 2*ceil(P/n) + n once P > n*n*(n-1)/2
        // (n=4, P=40: >= 26 > 24; see AssignmentPolicyTest#pairedLayoutFailureInherently...).
        long anyBound = n == 1 ? 2 * ceil + n : 2 * ceilDiv(p, n - 1) + n;
        checkBound("leaving of " + id, before, after, p, n, ceil, anyBound);
      } else if (c.hasReassignPortions() && c.getReassignPortions().getActivateCount() == 1) {
        // the activation of ONE joining member: n' active after
        int n = after.activeMemberIds().size();
        long ceil = ceilDiv(p, n);
        checkBound("activation of " + c.getReassignPortions().getActivate(0), before, after, p,
            n, ceil, 2 * ceil + n);
      }
    }

    void checkBound(String what, ClusterState before, ClusterState after, long p, int n,
        long ownerBound, long anyBound) {
      if (p > 0) {
        nonTrivialChecks.add(what.substring(0, what.indexOf(' ')));
      }
      int ownerMoves = 0;
      int anyMoves = 0;
      for (var e : before.assignment().entrySet()) {
        VolumeAssignment a = e.getValue();
        VolumeAssignment b = after.assignment().get(e.getKey());
        for (int r = 0; r < a.regions(); r++) {
          boolean owner = !Objects.equals(a.owner(r), b.owner(r));
          ownerMoves += owner ? 1 : 0;
          anyMoves += owner || !a.mirrors(r).equals(b.mirrors(r)) ? 1 : 0;
        }
      }
      Supplier<String> context = () -> what + " with n=" + n + ", P=" + p
          + "\nbefore: " + show(before) + "\nafter:  " + show(after);
      assertThat((long) ownerMoves)
          .as(() -> "owner changes <= " + ownerBound + "; " + context.get())
          .isLessThanOrEqualTo(ownerBound);
      assertThat((long) anyMoves)
          .as(() -> "owner-or-mirror changes <= " + anyBound + "; " + context.get())
          .isLessThanOrEqualTo(anyBound);
    }

    /** Replaying the same commands from EMPTY gives the same outcomes and the same bytes. */
    void checkReplay() {
      byte[] reached = ClusterStateCodec.toProto(state).toByteArray();
      for (int attempt = 0; attempt < 2; attempt++) {
        ClusterState s = ClusterState.EMPTY;
        List<String> again = new ArrayList<>();
        for (Command c : commands) {
          Outcome o = ClusterTransitions.apply(s, c);
          again.add(describe(o));
          s = o.state();
        }
        assertThat(again).isEqualTo(outcomes);
        assertThat(ClusterStateCodec.toProto(s).toByteArray()).isEqualTo(reached);
      }
    }
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }

  private static String describe(Outcome o) {
    return o instanceof Outcome.Rejected r ? r.code() + " " + r.reason() : "accepted";
  }

  // ---- ops to commands ----

  private static Command toCommand(ClusterState s, Op op) {
    if (op instanceof Register r) {
      String id = "n" + r.k();
      Member m = s.members().get(id);
      if (m == null) {
        return Cmds.register(id);
      }
      long inc = m.state() == MemberState.FAILED || m.state() == MemberState.REMOVED
          ? m.incarnation() + 1 : m.incarnation();
      return Cmds.register(id, m.address(), inc);
    } else if (op instanceof ActivateOne a) {
      List<String> joining = joining(s);
      return Cmds.activate(s,
          joining.isEmpty() ? List.of() : List.of(joining.get(a.pick() % joining.size())));
    } else if (op instanceof ActivateAll) {
      return Cmds.activate(s, joining(s));
    } else if (op instanceof Fail f) {
      return Cmds.markFailed("n" + f.k());
    } else if (op instanceof DrainOp d) {
      return Cmds.drain("n" + d.k());
    } else if (op instanceof RemoveOp r) {
      return Cmds.remove("n" + r.k());
    } else if (op instanceof Create c) {
      // the smallest minimum region a node may configure, so 4 KiB regions stay valid here
      // (1 and 512 bytes are refused as below it)
      Command create = Cmds.createVolume("v" + c.name(), c.size(), c.regionSize(),
          c.name() % 2 == 0 ? "dr" + c.name() + ".example:9000" : "");
      return create.toBuilder().setCreateVolume(create.getCreateVolume().toBuilder()
          .setMinRegionSizeBytes(ControlLimits.MIN_REGION_SIZE_FLOOR)).build();
    } else if (op instanceof Delete d) {
      return Cmds.deleteVolume("v" + d.name());
    } else if (op instanceof BadReassign b) {
      return badReassign(s, b);
    } else if (op instanceof Close c) {
      List<PortionPlacement> all = ClusterStateCodec.placements(s);
      TreeMap<Portion, Watermark> marks = new TreeMap<>();
      for (int pick : c.picks()) {
        if (!all.isEmpty()) {
          PortionPlacement p = all.get(pick % all.size());
          marks.put(new Portion(p.getVolume(), (int) p.getRegion()),
              Cmds.watermark(p.getVolume(), (int) p.getRegion(), pick));
        }
      }
      return Cmds.closeEpoch(s.openEpoch(), 1_000L * s.openEpoch(), marks.values());
    } else if (op instanceof StageFirst st) {
      if (s.epochs().isEmpty()) {
        return Cmds.epochStaged(s.openEpoch(), List.of()); // not closed: rejected
      }
      EpochRecord e = s.epochs().firstEntry().getValue();
      List<Portion> todo = new ArrayList<>(e.watermarks().keySet());
      return Cmds.epochStaged(e.number(), st.half() ? todo.subList(0, todo.size() / 2) : todo);
    } else if (op instanceof CommitFirst) {
      return Cmds.commitEpoch(s.epochs().values().stream()
          .filter(e -> e.state() != EpochState.COMMITTED)
          .mapToLong(EpochRecord::number).findFirst().orElse(s.openEpoch()));
    } else if (op instanceof ApplyFirst) {
      for (EpochRecord e : s.epochs().values()) {
        TreeSet<String> left = new TreeSet<>(e.secondaries());
        left.removeAll(e.appliedBy());
        if (!left.isEmpty()) {
          return Cmds.epochApplied(e.number(), left.first());
        }
      }
      return Cmds.epochApplied(s.openEpoch(), "nobody:1");
    } else if (op instanceof SetPeriod p) {
      return Cmds.setCtsPeriod(p.millis());
    } else if (op instanceof SetCopiesOp k) {
      return Cmds.setCopies(k.copies());
    }
    throw new IllegalArgumentException("unknown op " + op);
  }

  private static List<String> joining(ClusterState s) {
    return s.members().values().stream()
        .filter(m -> m.state() == MemberState.JOINING)
        .map(Member::id)
        .toList();
  }

  private static Command badReassign(ClusterState s, BadReassign b) {
    List<PortionPlacement> all = ClusterStateCodec.placements(s);
    PortionPlacement p = all.isEmpty() ? null : all.get(b.pick() % all.size());
    long version = s.assignmentVersion();
    switch (b.kind()) {
      case 0: {
        long base = version == 0 ? 1 + b.pick() % 3 : version - 1 - b.pick() % version;
        return Cmds.reassign(base, AssignmentPolicy.plan(s, List.of()), List.of());
      }
      case 1: {
        if (p == null) {
          return Cmds.reassign(version, List.of(Cmds.placement("v9", 0, "n0", "n0")), List.of());
        }
        String who = p.getOwner().isEmpty() ? "n0" : p.getOwner();
        return Cmds.reassign(version,
            List.of(Cmds.placement(p.getVolume(), (int) p.getRegion(), who, who)), List.of());
      }
      case 2: {
        if (p == null) {
          return Cmds.reassign(version, List.of(), List.of("ghost"));
        }
        return b.pick() % 2 == 0
            ? Cmds.reassign(version,
                List.of(Cmds.placement(p.getVolume(), (int) p.getRegion(), "ghost", p.getMirror())),
                List.of())
            : Cmds.reassign(version,
                List.of(Cmds.placement(p.getVolume(), (int) p.getRegion(), p.getOwner(), "ghost")),
                List.of());
      }
      default: {
        List<String> notJoining = s.members().values().stream()
            .filter(m -> m.state() != MemberState.JOINING)
            .map(Member::id)
            .toList();
        String id = notJoining.isEmpty() ? "ghost" : notJoining.get(b.pick() % notJoining.size());
        return Cmds.reassign(version, List.of(), List.of(id));
      }
    }
  }

  // ---- checks ----

  /**
   * Placement and balance invariants of any reachable state. A DRAINING member keeps its
   * portions until the coordinator's next planned change (at an epoch end) moves them; until
   * then it may hold some, and the balance is checked once it holds none.
   */
  static void checkInvariants(ClusterState s) {
    List<String> active = s.activeMemberIds();
    Set<String> holders = new HashSet<>(active);
    s.members().values().stream().filter(m -> m.state() == MemberState.DRAINING)
        .forEach(m -> holders.add(m.id()));
    int n = active.size();
    assertThat(s.assignment().keySet()).isEqualTo(s.volumes().keySet());
    Map<String, Integer> owned = new TreeMap<>();
    Map<String, Integer> mirrored = new TreeMap<>();
    active.forEach(id -> {
      owned.put(id, 0);
      mirrored.put(id, 0);
    });
    long total = 0;
    int perPortion = Math.max(0, Math.min(s.copies() - 1, n - 1));
    boolean drainPending = s.assignment().values().stream().anyMatch(a ->
        holders.stream().anyMatch(id -> !active.contains(id) && a.placementsOf(id) > 0));
    for (Volume v : s.volumes().values()) {
      VolumeAssignment a = s.assignment().get(v.name());
      assertThat(a.regions()).as("regions of %s", v.name()).isEqualTo(v.regionCount());
      for (int r = 0; r < a.regions(); r++) {
        String owner = a.owner(r);
        List<String> mirrors = a.mirrors(r);
        boolean ok = (n < 1 || owner != null)
            && (drainPending || mirrors.size() == perPortion)
            && mirrors.size() <= s.copies() - 1
            && (owner == null || holders.contains(owner))
            && holders.containsAll(mirrors)
            && (owner == null || !mirrors.contains(owner))
            && new HashSet<>(mirrors).size() == mirrors.size();
        if (!ok) {
          throw new AssertionError("portion " + v.name() + "/" + r + " is placed on " + owner
              + "/" + mirrors + " with " + n + " active member(s) and copies " + s.copies()
              + ": an owner is needed with >= 1, min(copies - 1, n - 1) mirrors, all ACTIVE (or"
              + " DRAINING) and different; state: " + show(s));
        }
        if (owner != null) {
          owned.merge(owner, 1, Integer::sum);
        }
        mirrors.forEach(m -> mirrored.merge(m, 1, Integer::sum));
        total++;
      }
    }
    assertThat(s.portionCount()).isEqualTo(total);
    if (n >= 1 && !drainPending) {
      long p = total;
      owned.forEach((id, k) -> assertThat((long) k)
          .as(() -> "portions owned by " + id + " (n=" + n + ", P=" + p + ") in " + show(s))
          .isBetween(p / n, ceilDiv(p, n)));
      long units = p * perPortion;
      mirrored.forEach((id, k) -> assertThat((long) k)
          .as(() -> "portions mirrored by " + id + " (n=" + n + ", P=" + p + ", copies "
              + s.copies() + ") in " + show(s))
          .isBetween(units / n, ceilDiv(units, n)));
    }
  }

  static void checkRoundTrips(ClusterState s, long index) throws IOException {
    byte[] bytes = ClusterStateCodec.toProto(s).toByteArray();
    ClusterState decoded = ClusterStateCodec.fromProto(ClusterStateCodec.toProto(s));
    assertThat(ClusterStateCodec.toProto(decoded).toByteArray()).isEqualTo(bytes);
    assertThat(decoded).isEqualTo(s);

    long term = 1 + index / 7;
    SnapshotFile.Contents c =
        SnapshotFile.decode(SNAPSHOT_PATH, SnapshotFile.encode(term, index, s));
    assertThat(c.term()).isEqualTo(term);
    assertThat(c.index()).isEqualTo(index);
    assertThat(ClusterStateCodec.toProto(c.state()).toByteArray()).isEqualTo(bytes);
    assertThat(c.state()).isEqualTo(s);
  }

  /** Compact text of the members and the assignment, for failure messages. */
  static String show(ClusterState s) {
    StringBuilder b = new StringBuilder("members{");
    s.members().values().forEach(m -> b.append(m.id()).append('=').append(m.state()).append(' '));
    b.append("} ");
    s.assignment().forEach((v, a) -> {
      b.append(v).append('[');
      for (int r = 0; r < a.regions(); r++) {
        b.append(r == 0 ? "" : " ").append(a.owner(r)).append('/')
            .append(String.join("+", a.mirrors(r)));
      }
      b.append("] ");
    });
    return b.toString();
  }
}
