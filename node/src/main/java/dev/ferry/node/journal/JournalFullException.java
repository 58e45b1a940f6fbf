package dev.ferry.node.journal;

import java.io.IOException;

/** An append that would take the journal past its byte budget; nothing of it was written. */
public final class JournalFullException extends IOException {
  private static final long serialVersionUID = 1L;

  public JournalFullException(long budgetBytes, long bytesUsed, long bytesQueued,
      long recordBytes) {
    super("journal budget of " + budgetBytes + " bytes exceeded: " + bytesUsed
        + " bytes used on disk and " + bytesQueued + " queued, a record of " + recordBytes
        + " bytes does not fit");
  }
}
