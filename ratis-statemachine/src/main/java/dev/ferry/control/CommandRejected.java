package dev.ferry.control;

import dev.ferry.proto.control.RejectCode;

/** Thrown inside the pure transition to abandon a command; turned into {@link Outcome.Rejected}. */
final class CommandRejected extends RuntimeException {
  final RejectCode code;

  CommandRejected(RejectCode code, String reason) {
    super(reason, null, false, false);
    this.code = code;
  }

  static CommandRejected invalid(String reason) {
    return new CommandRejected(RejectCode.INVALID, reason);
  }

  static CommandRejected notFound(String reason) {
    return new CommandRejected(RejectCode.NOT_FOUND, reason);
  }

  static CommandRejected conflict(String reason) {
    return new CommandRejected(RejectCode.CONFLICT, reason);
  }
}
