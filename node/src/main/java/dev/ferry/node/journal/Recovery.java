package dev.ferry.node.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Reads a journal directory back at open: verifies every segment, replays its records, cuts a
 * torn tail off the last segment and leaves that segment open for appending. The rules for what
 * is a torn tail and what is corruption are on {@link Journal}.
 */
final class Recovery {
  private static final Logger LOG = LogManager.getLogger(Journal.class);

  /** The recovered segments, the last one open and positioned for the next append. */
  record Result(Segments segments, FileChannel active, long records) {}

  /** Where the valid records of a segment end, and why the rest (if any) is a torn tail. */
  private record Scan(int validEnd, String tornBecause) {}

  /** A record that did not verify at some offset. */
  private record BadRecord(String why, boolean incomplete, int end) {}

  private final Path dir;
  private final Disk disk;
  private final Consumer<StoredRecord> replay;
  private final Segments segments = new Segments();
  private long records;

  private Recovery(Path dir, Disk disk, Consumer<StoredRecord> replay) {
    this.dir = dir;
    this.disk = disk;
    this.replay = replay;
  }

  static Result run(Path dir, Disk disk, Consumer<StoredRecord> replay) throws IOException {
    return new Recovery(dir, disk, replay).run();
  }

  private Result run() throws IOException {
    Files.createDirectories(dir);
    List<Path> files = segmentFiles();
    if (files.isEmpty()) {
      Segment first = Segment.named(dir, 0);
      FileChannel ch = first.create(disk);
      segments.add(first);
      return new Result(segments, ch, 0);
    }
    for (Path file : files.subList(0, files.size() - 1)) {
      Segment s = next(file);
      try (FileChannel ch = disk.open(file, StandardOpenOption.READ)) {
        scan(s, read(file, ch), false);
      }
    }
    Segment last = next(files.get(files.size() - 1));
    FileChannel ch = disk.open(last.file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      byte[] content = read(last.file, ch);
      Scan scan = scan(last, content, true);
      if (scan.tornBecause() != null) {
        cut(last, ch, scan, content.length);
      }
      ch.position(last.bytes);
      return new Result(segments, ch, records);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private List<Path> segmentFiles() throws IOException {
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.filter(p -> Segment.firstRecordOf(p).isPresent())
          .sorted(Comparator.comparingLong(p -> Segment.firstRecordOf(p).getAsLong()))
          .toList();
    }
  }

  /** The segment for the next file, which must not start inside the previous segment. */
  private Segment next(Path file) throws IOException {
    Segment s = new Segment(file, Segment.firstRecordOf(file).getAsLong());
    if (!segments.isEmpty() && s.firstRecord < segments.active().endRecord()) {
      throw corrupt(file, 0, "starts at record " + s.firstRecord + " but "
          + segments.active().file.getFileName() + " ends at record "
          + segments.active().endRecord());
    }
    segments.add(s);
    return s;
  }

  private static byte[] read(Path file, FileChannel ch) throws IOException {
    long size = ch.size();
    if (size > JournalOptions.MAX_SEGMENT_BYTES) {
      throw corrupt(file, 0, size + " bytes is larger than any segment");
    }
    ByteBuffer b = ByteBuffer.allocate((int) size);
    while (b.hasRemaining() && ch.read(b, b.position()) >= 0) {
      // read until full: a short read is not the end of the file
    }
    return b.array();
  }

  /** Replays the valid records of one segment; only the last may end in a torn tail. */
  private Scan scan(Segment s, byte[] content, boolean last) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(content);
    if (content.length < Segment.HEADER_BYTES || b.getInt(0) != Segment.MAGIC) {
      if (last && (content.length < Segment.HEADER_BYTES || zeroFrom(content, 0))) {
        return new Scan(0, "incomplete segment header");
      }
      throw corrupt(s.file, 0, content.length < Segment.HEADER_BYTES
          ? "shorter than the segment header" : String.format("bad segment magic 0x%08x",
          b.getInt(0)));
    }
    if (b.getInt(4) < Segment.OLDEST_READABLE_VERSION || b.getInt(4) > Segment.VERSION) {
      throw corrupt(s.file, 4, "unsupported segment format version " + b.getInt(4));
    }
    s.bytes = Segment.HEADER_BYTES;
    int p = Segment.HEADER_BYTES;
    while (p < content.length) {
      BadRecord bad = check(content, p);
      if (bad != null) {
        String torn = last ? tornBecause(content, p, bad) : null;
        if (torn != null) {
          return new Scan(p, torn);
        }
        throw corrupt(s.file, p, bad.why());
      }
      int size = RecordCodec.PREFIX_BYTES + b.getInt(p + 4);
      JournalRecord r;
      try {
        r = RecordCodec.decode(content, p, size);
      } catch (IllegalArgumentException e) {
        // its CRC matched, so it was written like this: never a torn tail
        throw corrupt(s.file, p, "malformed record: " + e.getMessage());
      }
      replay.accept(new StoredRecord(r, new JournalLocation(s.file, p, size)));
      segments.account(r, s, size);
      records++;
      p += size;
    }
    return new Scan(p, null);
  }

  /** Null if a whole record with a matching CRC starts at p; else what is wrong with it. */
  private static BadRecord check(byte[] content, int p) {
    ByteBuffer b = ByteBuffer.wrap(content);
    int remaining = content.length - p;
    if (remaining < RecordCodec.PREFIX_BYTES) {
      return new BadRecord("the file ends inside a record header", true, -1);
    }
    if (b.getInt(p) != RecordCodec.MAGIC) {
      return new BadRecord(String.format("bad record magic 0x%08x", b.getInt(p)), false, -1);
    }
    int length = b.getInt(p + 4);
    if (length < RecordCodec.MIN_LENGTH) {
      return new BadRecord("impossible record length " + length, false, -1);
    }
    if (length > remaining - RecordCodec.PREFIX_BYTES) {
      return new BadRecord("record of " + (RecordCodec.PREFIX_BYTES + (long) length)
          + " bytes but the file ends after " + remaining, true, -1);
    }
    int size = RecordCodec.PREFIX_BYTES + length;
    if (b.getInt(p + RecordCodec.CRC_OFFSET) != RecordCodec.checksum(content, p, size)) {
      return new BadRecord("CRC32C mismatch", false, p + size);
    }
    return null;
  }

  /**
   * Why the bad record at p in the last segment is what a crash mid-write leaves, or null if it
   * is not: zeros to the end; a record the file ends inside (unless a valid record starts after
   * it: then its length field is what is damaged); or a record failing its CRC with nothing but
   * zeros after it.
   */
  private static String tornBecause(byte[] content, int p, BadRecord bad) {
    if (zeroFrom(content, p)) {
      return "zero bytes to the end of the file";
    }
    if (bad.incomplete()) {
      return validRecordAfter(content, p) ? null : bad.why();
    }
    return bad.end() >= 0 && zeroFrom(content, bad.end())
        ? bad.why() + " in the final record" : null;
  }

  private static boolean zeroFrom(byte[] content, int from) {
    for (int i = from; i < content.length; i++) {
      if (content[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private static boolean validRecordAfter(byte[] content, int p) {
    ByteBuffer b = ByteBuffer.wrap(content);
    for (int q = p + 1; q <= content.length - RecordCodec.PREFIX_BYTES - RecordCodec.MIN_LENGTH;
        q++) {
      if (b.getInt(q) == RecordCodec.MAGIC && check(content, q) == null) {
        return true;
      }
    }
    return false;
  }

  private static void cut(Segment s, FileChannel ch, Scan scan, int size) throws IOException {
    LOG.warn("journal {}: cut a torn tail of {} bytes at offset {} ({})", s.file,
        size - scan.validEnd(), scan.validEnd(), scan.tornBecause());
    ch.truncate(scan.validEnd());
    if (scan.validEnd() < Segment.HEADER_BYTES) {
      Segment.writeHeader(ch);
      s.bytes = Segment.HEADER_BYTES;
    }
    ch.force(true);
  }

  static IOException corrupt(Path file, long offset, String why) {
    return new IOException("corrupt journal " + file + " at offset " + offset + ": " + why);
  }
}
