package dev.ferry.node.journal;

import java.util.Objects;
import java.util.function.Consumer;
import org.apache.logging.log4j.LogManager;

/**
 * How a journal behaves.
 *
 * @param segmentBytes a segment is closed and a new one started when the next record would take
 *     it past this size; also the largest record (with the segment header) the journal accepts
 * @param budgetBytes bytes on disk plus bytes queued that appends may not exceed
 * @param sync true: an append completes once forced ("durable"); false: once written, never
 *     forced per append ("mirrored")
 * @param onFatal called once, on the writer thread, when a write or force fails
 */
public record JournalOptions(long segmentBytes, long budgetBytes, boolean sync, Disk disk,
    Consumer<Throwable> onFatal) {
  /** Segments are read whole into memory at recovery: keep them well inside an array. */
  static final long MAX_SEGMENT_BYTES = 1L << 30;

  /** The exit status of a node stopped by a journal failure. */
  public static final int FATAL_EXIT_STATUS = 70;

  public JournalOptions {
    if (segmentBytes < 1024 || segmentBytes > MAX_SEGMENT_BYTES) {
      throw new IllegalArgumentException(
          "segmentBytes must be between 1 KiB and 1 GiB, not " + segmentBytes);
    }
    if (budgetBytes < segmentBytes) {
      throw new IllegalArgumentException("budgetBytes (" + budgetBytes
          + ") must be at least segmentBytes (" + segmentBytes + ")");
    }
    Objects.requireNonNull(disk, "disk");
    Objects.requireNonNull(onFatal, "onFatal");
  }

  /** 64 MiB segments, a 4 GiB budget, durable appends, the real disk, halt on a fatal error. */
  public static JournalOptions defaults() {
    return new JournalOptions(64L << 20, 4L << 30, true, Disk.REAL, JournalOptions::halt);
  }

  /**
   * Stops the process at once: a node whose journal (or Raft log) cannot write must not
   * acknowledge anything more, and shutdown hooks could try to use it again. A supervisor
   * restarts it once the disk is fixed.
   */
  public static void halt(Throwable cause) {
    // the journal has logged the failure with its stack trace already
    LogManager.getLogger(Journal.class).error("halting the node (exit status {}): {}",
        FATAL_EXIT_STATUS, cause.getMessage());
    Runtime.getRuntime().halt(FATAL_EXIT_STATUS);
  }
}
