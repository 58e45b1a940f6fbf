package dev.ferry.node.secondary;

import dev.ferry.control.Portion;
import dev.ferry.node.secondary.StagedPortion.Watermark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The staging area: {@code staging/<epoch, 20 digits>/<volume>@<region>.stage}, one
 * {@link StagedPortion} file per portion of an epoch not yet applied, each written whole and
 * forced before it is renamed into place. Keeps the watermark of every staged portion in memory;
 * the updates stay on disk until the epoch is applied. Not thread-safe: owned by the store's
 * thread.
 */
final class Staging {
  private static final Pattern EPOCH_DIR = Pattern.compile("\\d{20}");
  private static final String SUFFIX = ".stage";

  private final Path dir;
  private final TreeMap<Long, TreeMap<Portion, Watermark>> staged = new TreeMap<>();

  private Staging(Path dir) {
    this.dir = dir;
  }

  /**
   * Reads the staging area back, verifying every staged file. Staging of epochs at or before
   * applied is left over from a crash after their apply: deleted, like half-written files.
   */
  static Staging open(Path dir, long applied) throws IOException {
    Durable.createDirectory(dir);
    Staging staging = new Staging(dir);
    for (Path epochDir : list(dir)) {
      Matcher m = EPOCH_DIR.matcher(epochDir.getFileName().toString());
      if (!m.matches() || !Files.isDirectory(epochDir)) {
        continue; // not ours
      }
      long epoch = Long.parseLong(m.group());
      if (epoch <= applied) {
        deleteEpochDir(epochDir);
        continue;
      }
      for (Path f : list(epochDir)) {
        String name = f.getFileName().toString();
        if (name.endsWith(Durable.TEMP_SUFFIX)) {
          Files.delete(f);
        } else if (name.endsWith(SUFFIX)) {
          StagedPortion p = read(f);
          if (p.epoch() != epoch || !f.equals(staging.file(epoch, p.portion()))) {
            throw new CorruptStoreException(f, 16, "holds portion " + p.portion() + " of epoch "
                + p.epoch() + ", which belongs in " + staging.file(p.epoch(), p.portion()));
          }
          staging.index(p);
        }
      }
    }
    return staging;
  }

  private Path epochDir(long epoch) {
    return dir.resolve(String.format("%020d", epoch));
  }

  Path file(long epoch, Portion portion) {
    return epochDir(epoch).resolve(portion.volume() + "@" + portion.region() + SUFFIX);
  }

  /** The watermark the portion was staged with in epoch, or null if it is not staged. */
  Watermark watermark(long epoch, Portion portion) {
    Map<Portion, Watermark> portions = staged.get(epoch);
    return portions == null ? null : portions.get(portion);
  }

  /** The epochs with at least one staged portion, ascending. */
  List<Long> epochs() {
    return List.copyOf(staged.keySet());
  }

  /** Stores the portion durably (replacing an earlier staging of it) before returning. */
  void stage(StagedPortion p) throws IOException {
    Durable.createDirectory(epochDir(p.epoch()));
    Durable.replace(file(p.epoch(), p.portion()),
        f -> Durable.writeFully(f.getChannel(), p.encode(), 0));
    index(p);
  }

  private void index(StagedPortion p) {
    staged.computeIfAbsent(p.epoch(), e -> new TreeMap<>()).put(p.portion(), p.watermark());
  }

  /** Reads back and verifies a staged portion. */
  StagedPortion load(long epoch, Portion portion) throws IOException {
    Path f = file(epoch, portion);
    if (!Files.exists(f)) {
      throw new CorruptStoreException(f, 0, "missing: epoch " + epoch
          + " is being applied with portion " + portion);
    }
    return read(f);
  }

  private static StagedPortion read(Path f) throws IOException {
    long size = Files.size(f);
    if (size > StagedPortion.MAX_FILE_BYTES) {
      throw new CorruptStoreException(f, 0, size + " bytes is larger than any staged portion");
    }
    return StagedPortion.decode(f, Files.readAllBytes(f));
  }

  /**
   * Deletes an epoch's staging. Not forced: staging that reappears after a crash is deleted at
   * open again (its epoch is applied or discarded by then).
   */
  void discard(long epoch) throws IOException {
    staged.remove(epoch);
    deleteEpochDir(epochDir(epoch));
  }

  /** Deletes the staging of every epoch; returns how many epochs it held. */
  int discardAll() throws IOException {
    List<Long> epochs = epochs();
    for (long e : epochs) {
      discard(e);
    }
    return epochs.size();
  }

  private static void deleteEpochDir(Path epochDir) throws IOException {
    if (Files.isDirectory(epochDir)) {
      for (Path f : list(epochDir)) {
        Files.delete(f);
      }
      Files.delete(epochDir);
    }
  }

  private static List<Path> list(Path dir) throws IOException {
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.sorted(Comparator.naturalOrder()).toList();
    }
  }
}
