package dev.ferry.node.coordinator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A test hook into the coordinator's epoch steps, for crash tests of whole processes: the
 * leader is killed exactly at a step instead of at a random moment.
 */
@FunctionalInterface
interface BarrierHook {
  /**
   * {@code -Dferry.coordinator.haltAt=STEP:E:MARKER} halts the process (status
   * {@value #HALT_STATUS}, no shutdown hooks) the first time a coordinator reaches STEP for an
   * epoch at or after E. STEP is {@code freeze} (every member answered Freeze, before Thaw) or
   * {@code commit} (CommitEpoch is in the Raft log, before any secondary is told to apply). The
   * halting process creates the file MARKER first; a process that finds it there does not halt,
   * so the leader that takes over (started with the same option) carries on. Several specs may
   * be given, separated by commas.
   */
  String HALT_PROPERTY = "ferry.coordinator.haltAt";
  int HALT_STATUS = 98;
  String FREEZE = "freeze";
  String COMMIT = "commit";
  BarrierHook NONE = (step, epoch) -> { };

  void reached(String step, long epoch);

  /** The hook the system property asks for, or NONE. */
  static BarrierHook fromSystemProperty() {
    String spec = System.getProperty(HALT_PROPERTY);
    return spec == null ? NONE : haltAt(spec, () -> Runtime.getRuntime().halt(HALT_STATUS));
  }

  /**
   * Runs halt once per spec, when it is first reached; {@code specs} is "STEP:E:MARKER", or
   * several separated by commas (each with its own marker).
   */
  static BarrierHook haltAt(String specs, Runnable halt) {
    List<BarrierHook> hooks = new ArrayList<>();
    for (String spec : specs.split(",")) {
      hooks.add(haltOnceAt(spec, halt));
    }
    return (step, epoch) -> hooks.forEach(h -> h.reached(step, epoch));
  }

  private static BarrierHook haltOnceAt(String spec, Runnable halt) {
    Matcher m = Pattern.compile("(freeze|commit):(\\d+):(.+)").matcher(spec.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException(HALT_PROPERTY + " must be freeze|commit:<epoch>:<marker file>, not '"
          + spec + "'");
    }
    String step = m.group(1);
    long from = Long.parseLong(m.group(2));
    Path marker = Path.of(m.group(3));
    return (s, epoch) -> {
      if (!s.equals(step) || epoch < from) {
        return;
      }
      try {
        Files.createFile(marker);
      } catch (FileAlreadyExistsException e) {
        return; // an earlier leader halted here already
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      halt.run();
    };
  }
}
