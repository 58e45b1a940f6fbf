package dev.ferry.node.data.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.control.Portion;
import dev.ferry.control.WatermarkDigest;
import dev.ferry.proto.control.Watermark;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** Claim 1 as plain state: numbers per (portion, epoch) from 1, never given twice. */
class SequencerTest {
  record Update(long n, long offset, int length, int crc32c) implements Numbered {}

  /**
   * One step of the data thread: number an update and record it (its append was taken), number
   * one whose append was refused at once (given back), drop a recorded one whose append failed
   * later, or release the epochs the secondary applied.
   */
  enum Step { RECORDED, REFUSED_AT_ONCE, REFUSED_LATER, RELEASED }

  record Op(Step step, int portion, long epoch) {}

  @Provide
  Arbitrary<List<Op>> ops() {
    return net.jqwik.api.Combinators.combine(
            Arbitraries.frequency(net.jqwik.api.Tuple.of(8, Step.RECORDED),
                net.jqwik.api.Tuple.of(2, Step.REFUSED_AT_ONCE),
                net.jqwik.api.Tuple.of(2, Step.REFUSED_LATER),
                net.jqwik.api.Tuple.of(1, Step.RELEASED)),
            Arbitraries.integers().between(0, 2), Arbitraries.longs().between(1, 4))
        .as(Op::new).list().ofMaxSize(60);
  }

  @Property(tries = 1_000)
  void numbersAreNeverGivenTwiceAndEachEpochsUpdatesStayInOrder(@ForAll("ops") List<Op> ops) {
    Sequencer<Update> seq = new Sequencer<>();
    // what was given to a recorded (or once recorded) update: never given again
    Map<PortionEpoch, Set<Long>> taken = new HashMap<>();
    Map<PortionEpoch, List<Update>> recorded = new HashMap<>();
    long released = 0;
    for (Op op : ops) {
      Portion p = new Portion("v", op.portion());
      PortionEpoch pe = new PortionEpoch(p, op.epoch());
      if (op.step() == Step.RELEASED) {
        released = Math.max(released, op.epoch());
        seq.releaseThrough(released);
        long upTo = released;
        recorded.keySet().removeIf(k -> k.epoch() <= upTo);
        taken.keySet().removeIf(k -> k.epoch() <= upTo);
        continue;
      }
      if (op.epoch() <= released) {
        continue; // the data thread numbers only in epochs not yet applied
      }
      long n = seq.next(p, op.epoch());
      assertThat(taken.getOrDefault(pe, Set.of())).as("n %d of %s given twice", n, pe)
          .doesNotContain(n);
      assertThat(n).isPositive();
      Update u = new Update(n, n * 4096, 4096, (int) n);
      switch (op.step()) {
        case REFUSED_AT_ONCE -> seq.giveBack(p, op.epoch(), n);
        case RECORDED, REFUSED_LATER -> {
          seq.add(p, op.epoch(), u);
          taken.computeIfAbsent(pe, k -> new HashSet<>()).add(n);
          recorded.computeIfAbsent(pe, k -> new ArrayList<>()).add(u);
          if (op.step() == Step.REFUSED_LATER) {
            seq.remove(p, op.epoch(), u);
            recorded.get(pe).remove(u);
          }
        }
        default -> throw new AssertionError(op);
      }
      List<Update> here = seq.updates(p, op.epoch());
      if (here == null) { // none ever recorded there
        assertThat(recorded).doesNotContainKey(pe);
        continue;
      }
      assertThat(here).containsExactlyElementsOf(recorded.get(pe) == null ? List.of() : recorded.get(pe));
      assertThat(here).extracting(Update::n).isSorted().doesNotHaveDuplicates();
    }
    for (PortionEpoch pe : seq.portionEpochs()) {
      List<Update> updates = seq.updates(pe.portion(), pe.epoch());
      Watermark w = Sequencer.watermarkOf(pe.portion(), updates);
      assertThat(w.getCount()).isEqualTo(updates.size());
      assertThat(seq.watermarks(pe.epoch())).filteredOn(x -> x.getRegion() == pe.portion().region())
          .containsExactlyElementsOf(updates.isEmpty() ? List.of() : List.of(w));
    }
  }

  @Test
  void anUpdateTakenOverFromAFailedOwnerMovesTheCounterPastItAndKeepsTheOrder() {
    Sequencer<Update> seq = new Sequencer<>();
    Portion p = new Portion("v", 0);
    seq.add(p, 3, new Update(5, 0, 1, 1));
    seq.add(p, 3, new Update(2, 0, 1, 1));
    assertThat(seq.updates(p, 3)).extracting(Update::n).containsExactly(2L, 5L);
    assertThat(seq.next(p, 3)).isEqualTo(6);
    assertThat(seq.numberedAfter(2, List.of(p))).containsExactly(p);
    assertThat(seq.numberedAfter(3, List.of(p))).isEmpty();
  }

  @Test
  void twoUpdatesWithOneNumberAreRefused() {
    Sequencer<Update> seq = new Sequencer<>();
    Portion p = new Portion("v", 0);
    seq.add(p, 3, new Update(1, 0, 1, 1));
    assertThatThrownBy(() -> seq.add(p, 3, new Update(1, 8, 1, 2)))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("3/1");
  }

  @Test
  void aNumberIsGivenBackOnlyIfItIsTheLastAndNothingWasRecordedUnderIt() {
    Sequencer<Update> seq = new Sequencer<>();
    Portion p = new Portion("v", 0);
    long one = seq.next(p, 1);
    seq.add(p, 1, new Update(one, 0, 1, 1));
    seq.giveBack(p, 1, one);
    assertThat(seq.next(p, 1)).isEqualTo(2);
    long three = seq.next(p, 1);
    seq.giveBack(p, 1, 2); // not the last: kept given
    assertThat(seq.next(p, 1)).isEqualTo(three + 1);
  }

  @Test
  void theWatermarkIsTheSharedDigestOfTheUpdatesInOrder() {
    Portion p = new Portion("v", 1);
    List<Update> updates = List.of(new Update(1, 0, 10, 7), new Update(2, 4096, 20, 9));
    WatermarkDigest d = new WatermarkDigest();
    d.add(1, 0, 10, 7);
    d.add(2, 4096, 20, 9);
    assertThat(Sequencer.watermarkOf(p, updates)).isEqualTo(d.toWatermark(p));
  }
}
