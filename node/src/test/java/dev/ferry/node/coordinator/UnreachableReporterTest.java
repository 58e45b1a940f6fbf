package dev.ferry.node.coordinator;

import static org.assertj.core.api.Assertions.assertThatCode;

import org.junit.jupiter.api.Test;

class UnreachableReporterTest {
  /**
   * Issue 16: at every node shutdown the peer links broke, reported here after close, and the
   * RejectedExecutionException reached gRPC's onClose, which logged it at WARN with a stack
   * trace. A report after close is dropped.
   */
  @Test
  void aReportAfterCloseIsDroppedNotThrown() {
    UnreachableReporter reporter = new UnreachableReporter("n1", null, null, System::nanoTime);
    reporter.close();
    assertThatCode(() -> reporter.report("n2", "connection refused")).doesNotThrowAnyException();
  }
}
