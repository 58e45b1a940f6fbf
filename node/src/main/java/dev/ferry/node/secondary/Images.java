package dev.ferry.node.secondary;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The volume images: {@code images/<volume>.img}, one plain file per volume holding its bytes at
 * their offsets, created sparse at the volume size (so never-written ranges read as zeros) and
 * never resized. Not thread-safe: owned by the store's thread.
 */
final class Images implements AutoCloseable {
  private static final String SUFFIX = ".img";

  private final Path dir;
  private final TreeMap<String, FileChannel> channels = new TreeMap<>();

  private Images(Path dir) {
    this.dir = dir;
  }

  /** Opens every image in dir (creating dir if absent) and deletes half-created ones. */
  static Images open(Path dir) throws IOException {
    Durable.createDirectory(dir);
    Images images = new Images(dir);
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String name = f.getFileName().toString();
        if (name.endsWith(SUFFIX + Durable.TEMP_SUFFIX)) {
          Files.delete(f);
        } else if (name.endsWith(SUFFIX)) {
          images.channels.put(name.substring(0, name.length() - SUFFIX.length()),
              FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE));
        }
      }
    } catch (IOException | RuntimeException e) {
      images.close();
      throw e;
    }
    return images;
  }

  Path file(String volume) {
    return dir.resolve(volume + SUFFIX);
  }

  /** The volume's size in bytes, or -1 if it has no image. */
  long size(String volume) throws IOException {
    FileChannel ch = channels.get(volume);
    return ch == null ? -1 : ch.size();
  }

  SortedSet<String> volumes() {
    return new TreeSet<>(channels.keySet());
  }

  /** Creates the volume's image, all zeros, durably: a crash leaves it whole or absent. */
  void create(String volume, long sizeBytes) throws IOException {
    Path file = file(volume);
    Durable.replace(file, f -> f.setLength(sizeBytes));
    channels.put(volume, FileChannel.open(file, StandardOpenOption.READ,
        StandardOpenOption.WRITE));
  }

  /** Writes data at offset (inside the volume: checked when it was staged); not forced. */
  void write(String volume, long offset, ByteString data) throws IOException {
    Durable.writeFully(channel(volume), data.asReadOnlyByteBuffer(), offset);
  }

  /**
   * Forces the volumes' images. Data only: their size never changes after creation, and
   * fdatasync still persists the blocks that filled holes.
   */
  void force(Collection<String> volumes) throws IOException {
    for (String v : volumes) {
      channel(v).force(false);
    }
  }

  /** length bytes from offset (inside the volume: the caller checks). */
  byte[] read(String volume, long offset, int length) throws IOException {
    FileChannel ch = channel(volume);
    ByteBuffer b = ByteBuffer.allocate(length);
    while (b.hasRemaining() && ch.read(b, offset + b.position()) >= 0) {
      // a short read is not the end of the file
    }
    return b.array();
  }

  private FileChannel channel(String volume) throws CorruptStoreException {
    FileChannel ch = channels.get(volume);
    if (ch == null) {
      throw new CorruptStoreException(file(volume), 0, "missing, but staged updates are for it");
    }
    return ch;
  }

  @Override
  public void close() throws IOException {
    IOException first = null;
    for (FileChannel ch : channels.values()) {
      try {
        ch.close();
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    channels.clear();
    if (first != null) {
      throw first;
    }
  }
}
