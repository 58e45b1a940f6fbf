package dev.ferry.node.secondary;

import com.google.protobuf.ByteString;
import dev.ferry.control.Portion;
import dev.ferry.control.WatermarkDigest;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * One portion's updates of one epoch, checked against their watermark, as staged at the
 * secondary. Immutable.
 *
 * <p>On disk, one file per portion and epoch, written whole by {@link Staging}; big-endian:
 *
 * <pre>
 *   offset  size  field
 *   0       4     magic 'F','S','S','P'
 *   4       4     format version (1)
 *   8       4     length L: the bytes after the CRC field (the file is 16 + L bytes)
 *   12      4     CRC32C of bytes 16 .. 16+L
 *   16      8     epoch
 *   24      4     region
 *   28      8     volume size in bytes (the image is created at this size)
 *   36      8     watermark count
 *   44      8     watermark bytes
 *   52      8     watermark last n
 *   60      32    watermark digest ({@link WatermarkDigest})
 *   92      2     volume name length V (UTF-8 bytes)
 *   94      V     volume name
 *   94+V          count updates in ascending n, each:
 *                   8 n, 8 offset, 4 crc32c, 4 data length D, D data
 * </pre>
 */
record StagedPortion(long epoch, Portion portion, long volumeBytes, Watermark watermark,
    List<Update> updates) {
  static final int MAGIC = 0x46535350; // "FSSP"
  static final int VERSION = 1;
  /** Magic, version, length, CRC: the part not counted by the length field. */
  static final int PREFIX_BYTES = 16;
  private static final int CRC_OFFSET = 12;
  private static final int FIXED_BYTES = 94;
  static final int UPDATE_OVERHEAD_BYTES = 24;
  static final int DIGEST_BYTES = 32;
  /** A staged file is read whole into memory: keep it well inside an array. */
  static final long MAX_FILE_BYTES = 1L << 30;

  /** One staged update; data is covered by crc32c (checked when it was staged). */
  record Update(long n, long offset, int crc32c, ByteString data) {}

  /** What the epoch's CloseEpoch recorded for the portion; see {@link WatermarkDigest}. */
  record Watermark(long count, long bytes, long lastN, ByteString digest) {
    static Watermark of(WatermarkDigest d) {
      return new Watermark(d.count(), d.bytes(), d.lastN(), ByteString.copyFrom(d.digest()));
    }

    /** What differs from the expected watermark, for a person; empty if nothing does. */
    String differencesFrom(Watermark expected) {
      List<String> diffs = new ArrayList<>();
      difference(diffs, "count", count, expected.count);
      difference(diffs, "bytes", bytes, expected.bytes);
      difference(diffs, "last_n", lastN, expected.lastN);
      if (!digest.equals(expected.digest)) {
        diffs.add("digest " + hex(digest) + ", watermark says " + hex(expected.digest));
      }
      return String.join("; ", diffs);
    }

    private static void difference(List<String> diffs, String field, long got, long expected) {
      if (got != expected) {
        diffs.add(field + " " + got + ", watermark says " + expected);
      }
    }

    static String hex(ByteString b) {
      return HexFormat.of().formatHex(b.toByteArray());
    }
  }

  StagedPortion {
    updates = List.copyOf(updates);
  }

  /** The size of the file for a portion of this volume name, count updates and bytes of data. */
  static long fileBytes(String volume, long count, long dataBytes) {
    return FIXED_BYTES + volume.getBytes(StandardCharsets.UTF_8).length
        + count * UPDATE_OVERHEAD_BYTES + dataBytes;
  }

  /** The file's bytes, ready to write. */
  ByteBuffer encode() {
    byte[] volume = portion.volume().getBytes(StandardCharsets.UTF_8);
    long size = fileBytes(portion.volume(), updates.size(), watermark.bytes());
    if (size > MAX_FILE_BYTES) {
      throw new IllegalArgumentException("a staged portion of " + size + " bytes is larger than "
          + MAX_FILE_BYTES);
    }
    ByteBuffer b = ByteBuffer.allocate((int) size);
    b.putInt(MAGIC).putInt(VERSION).putInt((int) size - PREFIX_BYTES).putInt(0)
        .putLong(epoch).putInt(portion.region()).putLong(volumeBytes)
        .putLong(watermark.count()).putLong(watermark.bytes()).putLong(watermark.lastN())
        .put(watermark.digest().toByteArray())
        .putShort((short) volume.length).put(volume);
    for (Update u : updates) {
      b.putLong(u.n()).putLong(u.offset()).putInt(u.crc32c()).putInt(u.data().size());
      u.data().copyTo(b);
    }
    b.putInt(CRC_OFFSET, checksum(b.array()));
    return b.flip();
  }

  private static int checksum(byte[] file) {
    return Durable.crc32c(file, PREFIX_BYTES, file.length);
  }

  /**
   * Decodes and verifies a staged file: magic, version, length, CRC, fields filling it exactly,
   * and updates that match the watermark in the header.
   */
  static StagedPortion decode(Path file, byte[] content) throws CorruptStoreException {
    if (content.length < FIXED_BYTES) {
      throw new CorruptStoreException(file, 0, "shorter than a staged portion header ("
          + content.length + " bytes)");
    }
    ByteBuffer b = ByteBuffer.wrap(content);
    if (b.getInt(0) != MAGIC) {
      throw new CorruptStoreException(file, 0, String.format("bad magic 0x%08x", b.getInt(0)));
    }
    if (b.getInt(4) != VERSION) {
      throw new CorruptStoreException(file, 4, "unsupported format version " + b.getInt(4));
    }
    if (b.getInt(8) != content.length - PREFIX_BYTES) {
      throw new CorruptStoreException(file, 8, "length " + b.getInt(8) + " but the file has "
          + (content.length - PREFIX_BYTES) + " bytes after the header");
    }
    if (b.getInt(CRC_OFFSET) != checksum(content)) {
      throw new CorruptStoreException(file, CRC_OFFSET, "CRC32C mismatch");
    }
    b.position(PREFIX_BYTES);
    try {
      long epoch = b.getLong();
      int region = b.getInt();
      long volumeBytes = b.getLong();
      long count = b.getLong();
      long bytes = b.getLong();
      long lastN = b.getLong();
      ByteString digest = ByteString.copyFrom(b, DIGEST_BYTES);
      byte[] volume = new byte[Short.toUnsignedInt(b.getShort())];
      b.get(volume);
      Watermark watermark = new Watermark(count, bytes, lastN, digest);
      List<Update> updates = new ArrayList<>();
      WatermarkDigest check = new WatermarkDigest();
      while (b.hasRemaining()) {
        int at = b.position();
        long n = b.getLong();
        long offset = b.getLong();
        int crc = b.getInt();
        ByteString data = ByteString.copyFrom(b, b.getInt());
        try {
          check.add(n, offset, data.size(), crc);
        } catch (IllegalArgumentException e) {
          throw new CorruptStoreException(file, at, e.getMessage());
        }
        updates.add(new Update(n, offset, crc, data));
      }
      String diffs = Watermark.of(check).differencesFrom(watermark);
      if (!diffs.isEmpty()) {
        throw new CorruptStoreException(file, 36, "the updates do not match the watermark: "
            + diffs);
      }
      return new StagedPortion(epoch, new Portion(new String(volume, StandardCharsets.UTF_8),
          region), volumeBytes, watermark, updates);
    } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
      throw new CorruptStoreException(file, b.position(), "a field runs past the end of the file");
    }
  }
}
