package dev.ferry.node.secondary;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file of the secondary store does not verify, or the files contradict each other. The store
 * refuses to open (or to go on) rather than serve images it cannot vouch for.
 */
public final class CorruptStoreException extends IOException {
  private static final long serialVersionUID = 1L;

  public CorruptStoreException(Path file, long offset, String why) {
    super("corrupt secondary store " + file + " at offset " + offset + ": " + why);
  }
}
