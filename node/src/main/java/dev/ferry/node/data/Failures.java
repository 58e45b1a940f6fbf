package dev.ferry.node.data;

import io.grpc.Status;
import java.util.concurrent.CompletionException;

/** Turns a failed write's exception into the status a primary or a peer is answered with. */
final class Failures {
  private Failures() {}

  static Status status(Throwable error) {
    Throwable e = error instanceof CompletionException && error.getCause() != null
        ? error.getCause() : error;
    return Status.fromThrowable(e);
  }

  static String message(Status s) {
    return s.getDescription() == null ? s.getCode().name() : s.getDescription();
  }
}
