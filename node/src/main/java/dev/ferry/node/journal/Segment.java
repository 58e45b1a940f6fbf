package dev.ferry.node.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One segment file and what the journal knows about its records: how many, how many bytes, the
 * highest epoch among them, and how many are forwarded copies still waiting for their sequence
 * number (those keep the segment from being released whatever its epochs).
 */
final class Segment {
  static final int MAGIC = 0x464A5347; // "FJSG"
  /** Written in new segments: 2 (adds the FORWARD_DROPPED record type to version 1). */
  static final int VERSION = 2;
  /** The oldest version this code reads: a version 1 segment is a version 2 one without drops. */
  static final int OLDEST_READABLE_VERSION = 1;
  static final int HEADER_BYTES = 8;
  private static final Pattern NAME = Pattern.compile("segment-(\\d{20})\\.log");

  final Path file;
  /** The journal-wide sequence of the segment's first record: its name. */
  final long firstRecord;
  long records;
  long bytes;
  long maxEpoch = Long.MIN_VALUE;
  int unsequencedForwards;

  Segment(Path file, long firstRecord) {
    this.file = file;
    this.firstRecord = firstRecord;
  }

  static Segment named(Path dir, long firstRecord) {
    return new Segment(dir.resolve(String.format("segment-%020d.log", firstRecord)), firstRecord);
  }

  /** The first record sequence in a segment file's name, or empty if it is not a segment. */
  static OptionalLong firstRecordOf(Path file) {
    Matcher m = NAME.matcher(file.getFileName().toString());
    return m.matches() ? OptionalLong.of(Long.parseLong(m.group(1))) : OptionalLong.empty();
  }

  long endRecord() {
    return firstRecord + records;
  }

  void raiseEpoch(long epoch) {
    maxEpoch = Math.max(maxEpoch, epoch);
  }

  boolean releasableAt(long appliedEpoch) {
    return unsequencedForwards == 0 && maxEpoch <= appliedEpoch;
  }

  /**
   * Creates the file with its header and forces the directory, so that records forced into the
   * file later cannot vanish with a lost directory entry. Returns the channel, positioned after
   * the header.
   */
  FileChannel create(Disk disk) throws IOException {
    FileChannel ch = disk.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    try {
      writeHeader(ch);
      forceDirectory(disk, file.getParent());
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
    bytes = HEADER_BYTES;
    return ch;
  }

  static void writeHeader(FileChannel ch) throws IOException {
    ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).putInt(MAGIC).putInt(VERSION).flip();
    while (header.hasRemaining()) {
      ch.write(header, header.position());
    }
    ch.position(HEADER_BYTES);
  }

  private static void forceDirectory(Disk disk, Path dir) throws IOException {
    try (FileChannel d = disk.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }
}
