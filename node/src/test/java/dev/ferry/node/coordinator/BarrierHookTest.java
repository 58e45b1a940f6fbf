package dev.ferry.node.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BarrierHookTest {
  @TempDir Path dir;

  @Test
  void haltsOnceAtTheFirstMatchingStepFromTheEpochOnAcrossProcessesSharingTheMarker() {
    Path marker = dir.resolve("halted");
    AtomicInteger halts = new AtomicInteger();
    BarrierHook first = BarrierHook.haltAt("commit:7:" + marker, halts::incrementAndGet);
    first.reached(BarrierHook.COMMIT, 6);
    first.reached(BarrierHook.FREEZE, 7);
    assertThat(halts).hasValue(0);
    first.reached(BarrierHook.COMMIT, 8);
    assertThat(halts).hasValue(1);
    assertThat(marker).exists();
    // the next leader, started with the same option, finds the marker and carries on
    BarrierHook next = BarrierHook.haltAt("commit:7:" + marker, halts::incrementAndGet);
    next.reached(BarrierHook.COMMIT, 9);
    assertThat(halts).hasValue(1);
  }

  @Test
  void severalSpecsEachHaltOnce() {
    AtomicInteger halts = new AtomicInteger();
    BarrierHook hook = BarrierHook.haltAt("freeze:3:" + dir.resolve("f") + ",commit:5:"
        + dir.resolve("c"), halts::incrementAndGet);
    hook.reached(BarrierHook.FREEZE, 3);
    hook.reached(BarrierHook.FREEZE, 4);
    hook.reached(BarrierHook.COMMIT, 5);
    hook.reached(BarrierHook.COMMIT, 6);
    assertThat(halts).hasValue(2);
  }

  @Test
  void aMalformedSpecIsRefusedNamingTheProperty() {
    assertThatThrownBy(() -> BarrierHook.haltAt("close:3:/tmp/m", () -> { }))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(BarrierHook.HALT_PROPERTY);
  }
}
