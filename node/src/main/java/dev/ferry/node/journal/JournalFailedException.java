package dev.ferry.node.journal;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A write or force failed. The journal does not retry (after a failed fsync the kernel may have
 * dropped the dirty pages, so a retry that succeeds proves nothing) and is unusable from then on.
 */
public final class JournalFailedException extends IOException {
  private static final long serialVersionUID = 1L;

  public JournalFailedException(Path file, Throwable cause) {
    super("journal failed on " + file + ": " + cause, cause);
  }
}
