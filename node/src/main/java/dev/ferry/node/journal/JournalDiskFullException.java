package dev.ferry.node.journal;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The disk under the journal was full (ENOSPC, or EDQUOT) when a batch of appends was written
 * or a new segment created. Not fatal: the journal cut the segment back to its last good length
 * (nothing of the failed appends remains; none of them was forced or acknowledged) and tries
 * the next append again, so the node recovers when space returns. A subclass of
 * {@link JournalFullException}, so that the data path answers it like a full budget:
 * {@code RESOURCE_EXHAUSTED}, with this message.
 */
public final class JournalDiskFullException extends JournalFullException {
  private static final long serialVersionUID = 1L;

  private static final String ENOSPC = "No space left on device";
  private static final String EDQUOT = "Disk quota exceeded";

  public JournalDiskFullException(Path dir, IOException cause) {
    super("journal disk full: " + dir + " (" + reason(cause) + ")", cause);
  }

  /**
   * Whether an I/O error means the disk is full. Java reports ENOSPC only through the message
   * (the strerror text), on the exception or one of its causes.
   */
  static boolean isDiskFull(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && (m.contains(ENOSPC) || m.contains(EDQUOT))) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  private static String reason(IOException cause) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && m.contains(EDQUOT)) {
        return EDQUOT;
      }
      if (m != null && m.contains(ENOSPC)) {
        return ENOSPC;
      }
    }
    return String.valueOf(cause.getMessage());
  }
}
