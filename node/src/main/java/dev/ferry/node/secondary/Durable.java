package dev.ferry.node.secondary;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Files made durable whole (written beside the target, forced, renamed into place) and the
 * checksum of the secondary's files.
 */
final class Durable {
  /** The suffix of a file being written; one left over from a crash is deleted at open. */
  static final String TEMP_SUFFIX = ".tmp";

  @FunctionalInterface
  interface Fill {
    void into(RandomAccessFile file) throws IOException;
  }

  private Durable() {}

  /**
   * Creates or replaces target with what fill writes: a crash leaves either the old file (or
   * none) or the whole new one, never a part. The directory is forced so the name survives too.
   */
  static void replace(Path target, Fill fill) throws IOException {
    Path temp = target.resolveSibling(target.getFileName() + TEMP_SUFFIX);
    try (RandomAccessFile file = new RandomAccessFile(temp.toFile(), "rw")) {
      file.setLength(0); // a temp file left by a crash
      fill.into(file);
      file.getChannel().force(true);
    }
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    forceDirectory(target.getParent());
  }

  /** Writes all of b at position. */
  static void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    for (long p = position; b.hasRemaining(); ) {
      p += ch.write(b, p);
    }
  }

  /** Creates dir (and its parents) if absent and makes its entry in the parent durable. */
  static void createDirectory(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir);
      forceDirectory(dir.getParent());
    }
  }

  /** CRC32C of bytes[from, to): the checksum of every self-verifying file and record here. */
  static int crc32c(byte[] bytes, int from, int to) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, from, to - from);
    return (int) crc.getValue();
  }

  static void forceDirectory(Path dir) throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }
}
