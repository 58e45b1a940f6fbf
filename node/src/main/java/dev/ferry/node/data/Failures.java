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

  /**
   * The status a primary gets for a failed write. Final codes are only those that say the write
   * itself is wrong (INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE, DATA_LOSS) or cannot be stored
   * now (RESOURCE_EXHAUSTED). Fencing between nodes (FAILED_PRECONDITION: a stale assignment
   * version, a role that moved) and anything unexpected (UNKNOWN, INTERNAL, a timeout) become
   * UNAVAILABLE: the write was not acknowledged, and a retry, here or elsewhere, may succeed.
   */
  static Status forPrimary(Throwable error) {
    Status s = status(error);
    return switch (s.getCode()) {
      case OK, INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE, DATA_LOSS, RESOURCE_EXHAUSTED,
          UNAVAILABLE, ALREADY_EXISTS, CANCELLED -> s;
      case FAILED_PRECONDITION, ABORTED, DEADLINE_EXCEEDED -> Status.UNAVAILABLE.withDescription(
          "not acknowledged (" + s.getCode() + ": " + message(s) + "); retry");
      default -> Status.UNAVAILABLE.withDescription("not acknowledged (" + s.getCode() + ": "
          + message(s) + (s.getCause() == null ? "" : ", " + s.getCause()) + "); retry");
    };
  }

  static String message(Status s) {
    return s.getDescription() == null ? s.getCode().name() : s.getDescription();
  }
}
