package dev.ferry.node.secondary;

import dev.ferry.control.Portion;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The secondary's commit log: which epochs it started and finished applying, and whether it
 * failed over. Append-only; every append is forced before {@link #append} returns.
 *
 * <p>On disk, one file; big-endian. An 8-byte header:
 *
 * <pre>
 *   offset size  field
 *   0      4     magic 'F','S','C','L'
 *   4      4     format version (1)
 * </pre>
 *
 * then records, each self-verifying; offsets within the record:
 *
 * <pre>
 *   offset size  field
 *   0      4     magic 'F','S','C','R'
 *   4      4     length L: the bytes after this field (the record takes 8 + L bytes)
 *   8      4     CRC32C of bytes 12 .. 8+L (everything after this field)
 *   12     1     type: 1 APPLYING, 2 APPLIED, 3 FAILED_OVER
 *   13     8     epoch
 *   21     8     closedAtMillis (0 for FAILED_OVER)
 *   29     4     portion count P (0 unless APPLYING)
 *   33           P portions, each: 2 volume length V, V volume (UTF-8), 4 region
 * </pre>
 *
 * <p>Open reads it whole and verifies every record. A torn tail, what a crash during an append
 * leaves, is cut (and logged): zero bytes to the end; a last record the file ends inside (unless
 * a valid record starts after it: then its length field is what is damaged); or a last record
 * failing its CRC with nothing but zeros after it. Any other record that does not verify is
 * corruption: {@link CorruptStoreException} naming the file and the record's offset.
 *
 * <p>It never needs more than its last records, so {@link #rewrite} replaces it (atomically) with
 * a short one once it grows past {@link #COMPACT_BYTES}.
 *
 * <p>Not thread-safe: owned by the store's thread. A failed write or force is the caller's to
 * treat as fatal; the log does not retry.
 */
final class CommitLog implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(CommitLog.class);
  static final int FILE_MAGIC = 0x4653434C; // "FSCL"
  static final int VERSION = 1;
  static final int HEADER_BYTES = 8;
  static final int RECORD_MAGIC = 0x46534352; // "FSCR"
  /** Magic and length: the part of a record its length field does not count. */
  static final int PREFIX_BYTES = 8;
  private static final int CRC_OFFSET = 8;
  /** CRC, type, epoch, closedAtMillis, portion count. */
  static final int MIN_LENGTH = 4 + 1 + 8 + 8 + 4;
  /** Far above any real record (an APPLYING record lists the portions of one epoch). */
  private static final int MAX_LENGTH = 64 << 20;
  static final long COMPACT_BYTES = 1 << 20;

  /** A record of the log. */
  sealed interface Entry permits Applying, Applied, FailedOver {}

  /** Epoch is being written into the images, with these portions' staged updates. */
  record Applying(long epoch, long closedAtMillis, List<Portion> portions) implements Entry {
    Applying {
      portions = List.copyOf(portions);
    }
  }

  /** Epoch is in the images, forced: the images are at its end. */
  record Applied(long epoch, long closedAtMillis) implements Entry {}

  /** The secondary failed over with its images at epoch: it applies nothing more. */
  record FailedOver(long epoch) implements Entry {}

  /** A recovered record and its byte offset in the file. */
  record Logged(long offset, Entry entry) {}

  private final Path file;
  private FileChannel ch;
  private long size;

  private CommitLog(Path file, FileChannel ch, long size) {
    this.file = file;
    this.ch = ch;
    this.size = size;
  }

  /** Opens (creating if absent) the log, cutting a torn tail; replayed gets every record. */
  static CommitLog open(Path file, List<Logged> replayed) throws IOException {
    if (!Files.exists(file)) {
      Durable.replace(file, f -> f.write(header().array()));
    }
    byte[] content = Files.readAllBytes(file);
    ByteBuffer b = ByteBuffer.wrap(content);
    if (content.length < HEADER_BYTES || b.getInt(0) != FILE_MAGIC) {
      throw new CorruptStoreException(file, 0, "not a commit log (no 'FSCL' header)");
    }
    if (b.getInt(4) != VERSION) {
      throw new CorruptStoreException(file, 4, "unsupported format version " + b.getInt(4));
    }
    int p = HEADER_BYTES;
    while (p < content.length) {
      Flaw flaw = flaw(content, p);
      if (flaw != null) {
        String torn = flaw.tornBecause(content, p);
        if (torn == null) {
          throw new CorruptStoreException(file, p, flaw.why());
        }
        LOG.warn("commit log {}: cut a torn tail of {} bytes at offset {} ({})", file,
            content.length - p, p, torn);
        break;
      }
      int end = p + PREFIX_BYTES + b.getInt(p + 4);
      try {
        replayed.add(new Logged(p, decode(b.slice(p + CRC_OFFSET + 4, end - p - CRC_OFFSET - 4))));
      } catch (IllegalArgumentException | BufferUnderflowException e) {
        // its CRC matched, so it was written like this: never a torn tail
        throw new CorruptStoreException(file, p, "malformed record: " + e.getMessage());
      }
      p = end;
    }
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      if (p < content.length) {
        ch.truncate(p);
        ch.force(true);
      }
    } catch (IOException e) {
      ch.close();
      throw e;
    }
    return new CommitLog(file, ch, p);
  }

  Path file() {
    return file;
  }

  long size() {
    return size;
  }

  /** Writes the record and forces it. */
  void append(Entry e) throws IOException {
    ByteBuffer record = encode(e);
    int length = record.remaining();
    Durable.writeFully(ch, record, size);
    ch.force(false);
    size += length;
  }

  /** Replaces the whole log, atomically, with these records. */
  void rewrite(List<Entry> entries) throws IOException {
    List<ByteBuffer> records = entries.stream().map(CommitLog::encode).toList();
    ByteBuffer all = ByteBuffer.allocate(HEADER_BYTES
        + records.stream().mapToInt(ByteBuffer::remaining).sum());
    all.put(header());
    records.forEach(all::put);
    Durable.replace(file, f -> f.write(all.array()));
    ch.close();
    ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    size = all.capacity();
  }

  @Override
  public void close() throws IOException {
    ch.close();
  }

  private static ByteBuffer header() {
    return ByteBuffer.allocate(HEADER_BYTES).putInt(FILE_MAGIC).putInt(VERSION).flip();
  }

  static ByteBuffer encode(Entry e) {
    byte type;
    long epoch;
    long closedAt = 0;
    List<Portion> portions = List.of();
    if (e instanceof Applying a) {
      type = 1;
      epoch = a.epoch();
      closedAt = a.closedAtMillis();
      portions = a.portions();
    } else if (e instanceof Applied a) {
      type = 2;
      epoch = a.epoch();
      closedAt = a.closedAtMillis();
    } else {
      type = 3;
      epoch = ((FailedOver) e).epoch();
    }
    List<byte[]> volumes = portions.stream()
        .map(p -> p.volume().getBytes(StandardCharsets.UTF_8)).toList();
    int length = MIN_LENGTH + volumes.stream().mapToInt(v -> 2 + v.length + 4).sum();
    ByteBuffer b = ByteBuffer.allocate(PREFIX_BYTES + length);
    b.putInt(RECORD_MAGIC).putInt(length).putInt(0).put(type).putLong(epoch).putLong(closedAt)
        .putInt(portions.size());
    for (int i = 0; i < portions.size(); i++) {
      b.putShort((short) volumes.get(i).length).put(volumes.get(i))
          .putInt(portions.get(i).region());
    }
    b.putInt(CRC_OFFSET, Durable.crc32c(b.array(), CRC_OFFSET + 4, b.capacity()));
    return b.flip();
  }

  /** The record's fields, from its type on. */
  private static Entry decode(ByteBuffer b) {
    byte type = b.get();
    long epoch = b.getLong();
    long closedAt = b.getLong();
    int count = b.getInt();
    if (count < 0 || (type != 1 && count != 0)) {
      throw new IllegalArgumentException("portion count " + count + " in a record of type " + type);
    }
    List<Portion> portions = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte[] volume = new byte[Short.toUnsignedInt(b.getShort())];
      b.get(volume);
      portions.add(new Portion(new String(volume, StandardCharsets.UTF_8), b.getInt()));
    }
    if (b.hasRemaining()) {
      throw new IllegalArgumentException(b.remaining() + " bytes after the last field");
    }
    return switch (type) {
      case 1 -> new Applying(epoch, closedAt, portions);
      case 2 -> new Applied(epoch, closedAt);
      case 3 -> new FailedOver(epoch);
      default -> throw new IllegalArgumentException("unknown record type " + type);
    };
  }

  /** What is wrong with a record: why, whether the file ends inside it, where it ends if not. */
  private record Flaw(String why, boolean cutShort, int end) {
    static Flaw cutShort(String why) {
      return new Flaw(why, true, -1);
    }

    static Flaw bad(String why) {
      return new Flaw(why, false, -1);
    }

    /**
     * Why this is what a crash during the last append leaves (see the class comment), or null if
     * it is not.
     */
    String tornBecause(byte[] content, int p) {
      if (zerosFrom(content, p)) {
        return "zero bytes to the end of the file";
      }
      if (cutShort) {
        boolean wholeRecordAfter = IntStream.range(p + 1, content.length - PREFIX_BYTES)
            .anyMatch(q -> flaw(content, q) == null);
        // a whole record after it means its length field is damaged, not that the file ends
        return wholeRecordAfter ? null : why;
      }
      return end > 0 && zerosFrom(content, end) ? why + " in the last record" : null;
    }

    private static boolean zerosFrom(byte[] content, int from) {
      return IntStream.range(from, content.length).allMatch(i -> content[i] == 0);
    }
  }

  /** Null if a whole record with a matching CRC starts at p. */
  private static Flaw flaw(byte[] content, int p) {
    ByteBuffer record = ByteBuffer.wrap(content, p, content.length - p).slice();
    if (record.remaining() < PREFIX_BYTES) {
      return Flaw.cutShort("the file ends inside a record");
    }
    int magic = record.getInt(0);
    int length = record.getInt(4);
    if (magic != RECORD_MAGIC) {
      return Flaw.bad(String.format("bad record magic 0x%08x", magic));
    }
    if (length < MIN_LENGTH || length > MAX_LENGTH) {
      return Flaw.bad("impossible record length " + length);
    }
    int size = PREFIX_BYTES + length;
    if (size > record.remaining()) {
      return Flaw.cutShort("a record of " + size + " bytes but the file ends after "
          + record.remaining());
    }
    boolean crcMatches =
        record.getInt(CRC_OFFSET) == Durable.crc32c(content, p + CRC_OFFSET + 4, p + size);
    return crcMatches ? null : new Flaw("CRC32C mismatch", false, p + size);
  }
}
