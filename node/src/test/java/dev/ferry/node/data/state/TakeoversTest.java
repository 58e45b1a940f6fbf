package dev.ferry.node.data.state;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ferry.control.Portion;
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

/** Claim 13's bookkeeping: a taken-over portion takes writes only once every live holder handed over. */
class TakeoversTest {
  private static final List<String> MEMBERS = List.of("a", "b", "c");
  private static final List<String> FAILED = List.of("x#1", "x#2");

  /** AWAIT: portion taken over from failed; DONE: sender's handoff of failed; GONE: sender failed. */
  enum Kind { AWAIT, DONE, GONE }

  record Op(Kind kind, int portion, String failed, String sender) {}

  @Provide
  Arbitrary<List<Op>> ops() {
    return Combinators.combine(Arbitraries.of(Kind.class), Arbitraries.integers().between(0, 2),
            Arbitraries.of(FAILED), Arbitraries.of(MEMBERS))
        .as(Op::new).list().ofMaxSize(30);
  }

  @Property(tries = 1_000)
  void aPortionWaitsExactlyForTheLiveHoldersWhoseHandoffHasNotArrived(@ForAll("ops") List<Op> ops) {
    Takeovers t = new Takeovers();
    Set<String> live = new HashSet<>(MEMBERS);
    Map<Integer, Set<List<String>>> waits = new HashMap<>(); // portion -> (failed, sender)
    Set<List<String>> done = new HashSet<>();
    for (Op op : ops) {
      Portion p = new Portion("v", op.portion());
      switch (op.kind()) {
        case AWAIT -> {
          t.await(p, op.failed(), live, 7);
          for (String sender : live) {
            if (!done.contains(List.of(op.failed(), sender))) {
              waits.computeIfAbsent(op.portion(), k -> new HashSet<>()).add(List.of(op.failed(), sender));
            }
          }
        }
        case DONE -> {
          t.handoffDone(op.failed(), op.sender());
          done.add(List.of(op.failed(), op.sender()));
          waits.values().forEach(w -> w.remove(List.of(op.failed(), op.sender())));
        }
        case GONE -> {
          live.remove(op.sender());
          t.senderGone(live::contains);
          waits.values().forEach(w -> w.removeIf(x -> !live.contains(x.get(1))));
        }
      }
      waits.values().removeIf(Set::isEmpty);
      for (int r = 0; r < 3; r++) {
        assertThat(t.adopting(new Portion("v", r))).as("portion %d after %s", r, op)
            .isEqualTo(waits.containsKey(r));
      }
      assertThat(t.adoptingCount()).isEqualTo(waits.size());
      for (String f : FAILED) {
        for (String m : MEMBERS) {
          boolean awaited = waits.values().stream().anyMatch(w -> w.contains(List.of(f, m)));
          assertThat(t.awaits(f, m)).isEqualTo(awaited);
        }
      }
    }
  }

  @Test
  void aHandoffThatArrivedBeforeTheFailureWasAppliedIsNotAwaitedAgain() {
    Takeovers t = new Takeovers();
    Portion p = new Portion("v", 0);
    assertThat(t.handoffDone("x#1", "b")).isTrue();
    t.await(p, "x#1", List.of("b", "c"), 4);
    assertThat(t.awaits("x#1", "b")).isFalse();
    assertThat(t.awaits("x#1", "c")).isTrue();
    assertThat(t.handoffDone("x#1", "c")).isTrue();
    assertThat(t.adopting(p)).isFalse();
    assertThat(t.takenOverAt(p)).isEqualTo(4L);
    t.releaseThrough(4);
    assertThat(t.takenOverAt(p)).isNull();
  }

  @Test
  void aFailureIsHandedOverOncePerIncarnation() {
    Takeovers t = new Takeovers();
    assertThat(t.handingOver("x#1")).isTrue();
    assertThat(t.handingOver("x#1")).isFalse();
    assertThat(t.handingOver("x#2")).isTrue();
    assertThat(t.handedOverAll(List.of("x#1", "x#2"))).isTrue();
    assertThat(t.handedOverAll(List.of("x#3"))).isFalse();
    t.dropTakenOver();
    assertThat(t.handedOver("x#1")).as("what was handed over stays known").isTrue();
  }
}
