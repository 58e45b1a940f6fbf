package dev.ferry.control.ratis;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterStateCodec;
import dev.ferry.proto.control.ClusterStateSnapshot;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The on-disk snapshot of the control state. Self-verifying; big-endian:
 *
 * <pre>
 *   offset size  field
 *   0      4     magic 'F','S','N','P'
 *   4      4     format version (1)
 *   8      8     Raft term of the last applied entry
 *   16     8     Raft index of the last applied entry
 *   24     4     payload length L
 *   28     4     CRC32C of bytes 0..27 followed by the payload (header and data both covered)
 *   32     L     payload: a ClusterStateSnapshot protobuf (sorted lists: deterministic bytes)
 * </pre>
 *
 * Written to a temporary file, forced, then atomically renamed; the directory is forced too.
 * A file that fails any check is reported as corrupt, naming the file.
 */
public final class SnapshotFile {
  static final int MAGIC = 0x46534E50; // "FSNP"
  static final int VERSION = 1;
  static final int HEADER_BYTES = 32;
  private static final int CRC_OFFSET = 28;

  /** What a snapshot file holds. */
  public record Contents(long term, long index, ClusterState state) {}

  private SnapshotFile() {}

  public static byte[] encode(long term, long index, ClusterState state) {
    byte[] payload = ClusterStateCodec.toProto(state).toByteArray();
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + payload.length);
    b.putInt(MAGIC).putInt(VERSION).putLong(term).putLong(index).putInt(payload.length);
    b.putInt(0).put(payload);
    byte[] bytes = b.array();
    ByteBuffer.wrap(bytes).putInt(CRC_OFFSET, checksum(bytes));
    return bytes;
  }

  public static Contents decode(Path file, byte[] bytes) throws IOException {
    if (bytes.length < HEADER_BYTES) {
      throw corrupt(file, "shorter than its " + HEADER_BYTES + "-byte header");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    int magic = b.getInt();
    if (magic != MAGIC) {
      throw corrupt(file, String.format("bad magic 0x%08x", magic));
    }
    int version = b.getInt();
    if (version != VERSION) {
      throw corrupt(file, "unsupported format version " + version);
    }
    long term = b.getLong();
    long index = b.getLong();
    int length = b.getInt();
    int expectedCrc = b.getInt();
    if (length < 0 || length != bytes.length - HEADER_BYTES) {
      throw corrupt(file, "payload length " + length + " but " + (bytes.length - HEADER_BYTES)
          + " bytes follow the header");
    }
    if (checksum(bytes) != expectedCrc) {
      throw corrupt(file, "CRC32C mismatch");
    }
    try {
      ClusterStateSnapshot proto =
          ClusterStateSnapshot.parseFrom(ByteBuffer.wrap(bytes, HEADER_BYTES, length));
      return new Contents(term, index, ClusterStateCodec.fromProto(proto));
    } catch (IOException | RuntimeException e) {
      throw corrupt(file, "payload does not decode: " + e.getMessage());
    }
  }

  private static int checksum(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, CRC_OFFSET);
    crc.update(bytes, HEADER_BYTES, bytes.length - HEADER_BYTES);
    return (int) crc.getValue();
  }

  /** Writes durably: temp file, force, rename over {@code file}, force the directory. */
  public static void write(Path file, byte[] bytes) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      dir.force(true);
    }
  }

  public static Contents read(Path file) throws IOException {
    return decode(file, Files.readAllBytes(file));
  }

  private static IOException corrupt(Path file, String why) {
    return new IOException("corrupt snapshot " + file + ": " + why);
  }
}
