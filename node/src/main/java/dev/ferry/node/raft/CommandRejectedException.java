package dev.ferry.node.raft;

import dev.ferry.proto.control.RejectCode;

/** The state machine rejected a proposed command; {@link #getMessage()} is its reason, verbatim. */
public final class CommandRejectedException extends RuntimeException {
  private final RejectCode code;

  public CommandRejectedException(RejectCode code, String reason) {
    super(reason);
    this.code = code;
  }

  public RejectCode code() {
    return code;
  }
}
