package dev.ferry.control.ratis;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** A Raft log that cannot write reaches the node's handler (which halts the node). */
class LogFailureTest {
  @Test
  void aFailedLogWriteIsHandedToTheHandlerNamingTheCause() {
    FerryStateMachine sm = new FerryStateMachine();
    AtomicReference<Throwable> seen = new AtomicReference<>();
    sm.onLogFailed(seen::set);
    sm.notifyLogFailed(new IOException("No space left on device"), null);
    assertThat(seen.get()).isInstanceOf(IOException.class)
        .hasMessage("the Raft log failed to write an entry: java.io.IOException: No space left"
            + " on device")
        .hasCauseInstanceOf(IOException.class);
  }
}
