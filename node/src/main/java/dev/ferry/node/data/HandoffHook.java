package dev.ferry.node.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A test hook for crash tests of whole processes: a node is killed in the middle of handing
 * over a failed owner's updates (claim 13) instead of at a random moment.
 *
 * <p>{@code -Dferry.data.haltInHandoff=FILE}: when the node whose id FILE holds (written by the
 * test at any time before the failure) has updates to hand over to another node, it sends only
 * the first half (rounded up) of one new owner's share, not marked done, and halts once that
 * owner has taken it. It creates {@code FILE.halted} first and halts (status
 * {@value #HALT_STATUS}, no shutdown hooks). Once only: a process that finds
 * {@code FILE.halted} hands over normally.
 */
interface HandoffHook {
  String PROPERTY = "ferry.data.haltInHandoff";
  int HALT_STATUS = 97;
  HandoffHook NONE = () -> false;

  /** Whether this node is to halt in the middle of its next handoff. */
  boolean armed();

  /** Called once the partial handoff was taken: halts the process. */
  default void halt() {
    Runtime.getRuntime().halt(HALT_STATUS);
  }

  static HandoffHook fromSystemProperty(String self) {
    String file = System.getProperty(PROPERTY);
    return file == null ? NONE : armedBy(Path.of(file), self);
  }

  static HandoffHook armedBy(Path file, String self) {
    Path halted = Path.of(file + ".halted");
    return () -> {
      try {
        if (!Files.exists(file)
            || !Files.readString(file, StandardCharsets.UTF_8).strip().equals(self)) {
          return false;
        }
        Files.createFile(halted);
        return true;
      } catch (FileAlreadyExistsException e) {
        return false; // halted here once already
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
  }
}
