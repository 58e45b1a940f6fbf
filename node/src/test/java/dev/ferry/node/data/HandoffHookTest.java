package dev.ferry.node.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The crash-test hook arms only the node the file names, and only once. */
class HandoffHookTest {
  @TempDir Path dir;

  @Test
  void armsOnlyTheNamedNodeOnce() throws Exception {
    Path file = dir.resolve("halt-in-handoff");
    HandoffHook n1 = HandoffHook.armedBy(file, "n1");
    HandoffHook n2 = HandoffHook.armedBy(file, "n2");
    assertThat(n1.armed()).as("no file yet").isFalse();
    Files.writeString(file, "n2\n");
    assertThat(n1.armed()).as("names another node").isFalse();
    assertThat(n2.armed()).isTrue();
    assertThat(dir.resolve("halt-in-handoff.halted")).exists();
    assertThat(n2.armed()).as("once only: a restarted n2 hands over normally").isFalse();
  }
}
