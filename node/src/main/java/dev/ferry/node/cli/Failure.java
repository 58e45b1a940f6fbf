package dev.ferry.node.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** Turns an exception into the one-line reason a user sees. */
final class Failure {
  private Failure() {}

  static String describe(Throwable e) {
    if (e instanceof StatusRuntimeException s) {
      Status status = s.getStatus();
      String what = status.getDescription() == null ? status.getCode().toString()
          : status.getDescription();
      return what + " (" + status.getCode() + ")";
    }
    String msg = e.getMessage();
    return (msg == null ? e.getClass().getSimpleName() : msg).lines().findFirst().orElse("");
  }
}
