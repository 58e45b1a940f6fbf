package dev.ferry.node.data.state;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** The bounded queues of the data thread: held acks by epoch, parked writes. */
class HeldAcksTest {
  record Ack(long epoch, int id) {}

  @Property(tries = 500)
  void acksGoOutOnlyWhenTheirEpochIsReleasedAndNeverBeyondTheBound(
      @ForAll @Size(max = 60) List<@LongRange(min = 1, max = 6) Long> epochs,
      @ForAll @IntRange(min = 1, max = 30) int capacity,
      @ForAll @LongRange(min = 0, max = 6) long releaseThrough) {
    HeldAcks<Ack> held = new HeldAcks<>(capacity);
    List<Ack> kept = new ArrayList<>();
    for (int i = 0; i < epochs.size(); i++) {
      Ack a = new Ack(epochs.get(i), i);
      boolean taken = held.hold(a.epoch(), a);
      assertThat(taken).isEqualTo(kept.size() < capacity);
      if (taken) {
        kept.add(a);
      }
      assertThat(held.size()).isEqualTo(kept.size()).isLessThanOrEqualTo(capacity);
    }
    List<Ack> out = held.releaseThrough(releaseThrough);
    assertThat(out).allMatch(a -> a.epoch() <= releaseThrough)
        .containsExactlyInAnyOrderElementsOf(kept.stream().filter(a -> a.epoch() <= releaseThrough).toList());
    assertThat(out).extracting(Ack::epoch).isSorted();
    assertThat(held.size()).isEqualTo(kept.size() - out.size());
    assertThat(held.releaseThrough(Long.MAX_VALUE)).hasSize(kept.size() - out.size());
  }

  @Test
  void parkedWritesAreTriedAgainInArrivalOrderAndBounded() {
    ParkedWrites<String> parked = new ParkedWrites<>(2);
    assertThat(parked.park("a")).isTrue();
    assertThat(parked.park("b")).isTrue();
    assertThat(parked.park("c")).isFalse();
    assertThat(parked.drain()).containsExactly("a", "b");
    assertThat(parked.size()).isZero();
    assertThat(parked.park("c")).isTrue();
  }
}
