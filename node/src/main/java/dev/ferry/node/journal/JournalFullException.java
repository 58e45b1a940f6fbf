package dev.ferry.node.journal;

import java.io.IOException;

/**
 * An append refused for lack of space; nothing of it is kept, and a later append may succeed.
 * This class: the append would take the journal past its byte budget (refused before anything
 * is written). {@link JournalDiskFullException}: the disk itself was full when the record was
 * written (the partial write was cut off again).
 */
public class JournalFullException extends IOException {
  private static final long serialVersionUID = 1L;

  public JournalFullException(long budgetBytes, long bytesUsed, long bytesQueued,
      long recordBytes) {
    super("journal budget of " + budgetBytes + " bytes exceeded: " + bytesUsed
        + " bytes used on disk and " + bytesQueued + " queued, a record of " + recordBytes
        + " bytes does not fit");
  }

  protected JournalFullException(String message, Throwable cause) {
    super(message, cause);
  }
}
