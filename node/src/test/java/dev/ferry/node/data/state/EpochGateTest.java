package dev.ferry.node.data.state;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.control.Portion;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * The node's half of the barrier (DESIGN.md §5) as a value, driven by any order of the inputs a
 * node can get (Freezes and Thaws arrive late, twice, out of order; states are applied in order)
 * and checked against what the barrier promises.
 */
class EpochGateTest {
  private static final Portion P = new Portion("v", 0);
  private static final Portion Q = new Portion("v", 1);

  sealed interface Input {}

  record Freeze(long epoch, Set<Portion> moving) implements Input {}

  record Thaw(long epoch) implements Input {}

  /** A state applied here whose open epoch is the previous one plus {@code by}. */
  record Applied(int by) implements Input {}

  record Join() implements Input {}

  record Leave() implements Input {}

  @Provide
  Arbitrary<List<Input>> inputs() {
    Arbitrary<Long> epoch = Arbitraries.longs().between(0, 8);
    Arbitrary<Set<Portion>> moving = Arbitraries.of(Set.<Portion>of(), Set.of(P), Set.of(Q), Set.of(P, Q));
    Arbitrary<Input> one = Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(4, Combinators.combine(epoch, moving).as(Freeze::new)),
        net.jqwik.api.Tuple.of(3, epoch.map(Thaw::new)),
        net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(0, 2).map(Applied::new)),
        net.jqwik.api.Tuple.of(1, Arbitraries.just(new Join())),
        net.jqwik.api.Tuple.of(1, Arbitraries.just(new Leave())));
    return one.list().ofMaxSize(40);
  }

  @Property(tries = 2_000)
  void noNumberAfterAFreezeLandsInTheFrozenEpochAndNoAckGoesBeforeItsRelease(
      @ForAll("inputs") List<Input> inputs) {
    EpochGate gate = EpochGate.AT_START;
    long open = 1;
    long maxFrozen = 0;
    long maxThawed = 0;
    boolean joined = false;
    // per epoch, the portions named moving by a Freeze of it
    Map<Long, Set<Portion>> movingAt = new HashMap<>();
    long lastNumbering = gate.numberingEpoch(open);
    for (Input in : inputs) {
      if (in instanceof Freeze f) {
        gate = gate.frozen(f.epoch(), f.moving());
        maxFrozen = Math.max(maxFrozen, f.epoch());
        movingAt.computeIfAbsent(f.epoch(), e -> new HashSet<>()).addAll(f.moving());
      } else if (in instanceof Thaw t) {
        gate = gate.thawed(t.epoch());
        maxThawed = Math.max(maxThawed, t.epoch());
      } else if (in instanceof Applied a) {
        open += a.by();
        gate = gate.stateApplied(open);
      } else if (in instanceof Join) {
        gate = gate.joined();
        joined = true;
      } else {
        gate = gate.left();
        joined = false;
      }
      long numbering = gate.numberingEpoch(open);
      // after Freeze(N) was answered, nothing is numbered in N or before: a later write could
      // otherwise land in an epoch whose watermark was already reported
      assertThat(numbering).isGreaterThan(maxFrozen).isGreaterThanOrEqualTo(open)
          .isGreaterThanOrEqualTo(lastNumbering);
      lastNumbering = numbering;
      // acks of N+1 go only after Thaw(N) or once N is closed (every member froze it)
      assertThat(gate.releasableEpoch(open)).isEqualTo(Math.max(maxThawed + 1, open));
      assertThat(gate.sealable(maxFrozen)).isEqualTo(joined);
      assertThat(gate.sealable(maxFrozen + 1)).isFalse();
      // the latest epoch with moving portions, while not closed: its portions wait
      long latestMove = movingAt.entrySet().stream().filter(e -> !e.getValue().isEmpty())
          .mapToLong(Map.Entry::getKey).max().orElse(-1);
      for (Portion p : List.of(P, Q)) {
        boolean moves = latestMove >= open && movingAt.get(latestMove).contains(p)
            && numbering > latestMove;
        if (moves) {
          // neither the old owner (in N+1) nor anyone else numbers it before the close applies
          assertThat(gate.mustWaitForClose(p, numbering, open)).as("%s moving at %d", p, latestMove)
              .isTrue();
        }
        if (latestMove < open) {
          assertThat(gate.mustWaitForClose(p, numbering, open)).isFalse();
        }
      }
    }
  }

  @Test
  void aFreezeOfAnEarlierEpochDoesNotUndoALaterCutOrMove() {
    EpochGate gate = EpochGate.AT_START.frozen(5, Set.of(P)).frozen(3, Set.of(Q));
    assertThat(gate.numberingEpoch(1)).isEqualTo(6);
    assertThat(gate.moving()).isEqualTo(new EpochGate.Moving(5, Set.of(P)));
  }

  @Test
  void movingPortionsOfOneEpochAddUpAndTheCloseEndsTheMove() {
    EpochGate gate = EpochGate.AT_START.frozen(4, Set.of(P)).frozen(4, Set.of(Q));
    assertThat(gate.mustWaitForClose(P, 5, 4)).isTrue();
    assertThat(gate.mustWaitForClose(Q, 5, 4)).isTrue();
    EpochGate closed = gate.stateApplied(5);
    assertThat(closed.moving()).isNull();
    assertThat(closed.mustWaitForClose(P, 5, 5)).isFalse();
    // an apply that does not close it keeps the move
    assertThat(gate.stateApplied(4)).isSameAs(gate);
  }

  @Test
  void aProcessJustStartedNumbersInNoBarrierAndCannotSeal() {
    EpochGate gate = EpochGate.AT_START.frozen(7, List.of());
    assertThat(gate.inBarrier()).isFalse();
    assertThat(gate.sealable(7)).isFalse();
    assertThat(gate.joined().sealable(7)).isTrue();
    assertThat(gate.joined().left().sealable(7)).isFalse();
    assertThat(new ArrayList<>(List.of(gate.joined().thawed(7).releasableEpoch(2)))).containsExactly(8L);
  }
}
