package dev.ferry.control.ratis;

import dev.ferry.proto.control.RejectCode;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Carries a state-machine rejection from {@code startTransaction} back to the proposer. Ratis
 * returns it wrapped in a {@code StateMachineException}; the text keeps the form
 * {@code [CODE] reason} so the proposer can recover both.
 */
public final class Rejections {
  private static final Pattern FORM =
      Pattern.compile("\\[(INVALID|NOT_FOUND|ALREADY_EXISTS|CONFLICT)\\] (.*)", Pattern.DOTALL);

  /** A rejected command, as the proposer sees it. */
  public record Rejection(RejectCode code, String reason) {}

  private Rejections() {}

  static String format(RejectCode code, String reason) {
    return "[" + code.name() + "] " + reason;
  }

  /** Finds a rejection in an exception's message chain, if there is one. */
  public static Optional<Rejection> find(Throwable t) {
    for (Throwable e = t; e != null; e = e.getCause()) {
      String msg = e.getMessage();
      if (msg != null) {
        Matcher m = FORM.matcher(msg);
        if (m.find()) {
          String reason = m.group(2).lines().findFirst().orElse("").trim();
          return Optional.of(new Rejection(RejectCode.valueOf(m.group(1)), reason));
        }
      }
    }
    return Optional.empty();
  }
}
