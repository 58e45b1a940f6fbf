package dev.ferry.node.secondary;

import dev.ferry.control.Portion;
import dev.ferry.node.secondary.CommitLog.Applied;
import dev.ferry.node.secondary.CommitLog.Applying;
import dev.ferry.node.secondary.CommitLog.FailedOver;
import dev.ferry.node.secondary.CommitLog.Logged;
import dev.ferry.node.secondary.StagedPortion.Update;
import dev.ferry.node.secondary.StagedPortion.Watermark;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The secondary site's directory: volume images ({@link Images}), staged portions of epochs not
 * yet applied ({@link Staging}), and the {@link CommitLog}. The images always hold the end of a
 * whole applied epoch, outside an apply.
 *
 * <p>Apply of epoch N (at {@link #commit}): N = applied + 1 (or any N for a store that never
 * applied one: a secondary starts at the first epoch the cluster gives it, its images empty)
 * and every expected portion staged;
 * APPLYING(N, its portions) appended and forced; every staged update of those portions written
 * into the images (ascending n within a portion; portions never overlap); the images forced;
 * APPLIED(N) appended and forced; then N's staging deleted. Writes are overwrites at fixed
 * offsets, so redoing an apply gives the same images: {@link #open} redoes an epoch whose
 * APPLYING has no APPLIED before it serves anything.
 *
 * <p>Faults: a failed write or force (or any failure inside a mutation) is fatal, never retried:
 * the store answers nothing more and {@code onFatal} runs once. A store that does not verify at
 * open is refused with {@link CorruptStoreException}.
 *
 * <p>Threading: not thread-safe. After {@link #open} returns, one thread owns it: the store
 * thread of {@link SecondaryService}.
 */
public final class SecondaryStore implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(SecondaryStore.class);
  static final String LOG_FILE = "commit.log";
  static final String IMAGES_DIR = "images";
  static final String STAGING_DIR = "staging";
  /** Well inside gRPC's default 4 MiB message limit. */
  public static final int MAX_READ_BYTES = 2 << 20;

  /** What Status reports. */
  public record State(long appliedEpoch, long appliedClosedAtMillis, List<Long> stagedEpochs,
      boolean failedOver, SortedSet<String> volumes) {}

  @FunctionalInterface
  private interface Mutation<T> {
    T run() throws IOException;
  }

  private final CommitLog log;
  private final Images images;
  private final Staging staging;
  private final Consumer<Throwable> onFatal;
  private final ApplyHook hook;
  private final AppliedEpochListener listener;
  private long applied;
  private long appliedClosedAtMillis;
  private boolean failedOver;
  private Throwable failure;

  private SecondaryStore(CommitLog log, Images images, Staging staging,
      Consumer<Throwable> onFatal, ApplyHook hook, AppliedEpochListener listener) {
    this.log = log;
    this.images = images;
    this.staging = staging;
    this.onFatal = onFatal;
    this.hook = hook;
    this.listener = listener;
  }

  /**
   * Opens (creating if absent) the store in dir: verifies the commit log (cutting a torn tail)
   * and every staged file, redoes an interrupted apply, deletes leftovers. The apply hook comes
   * from the system property {@value ApplyHook#HALT_PROPERTY} (a test hook).
   *
   * @param onFatal called once when a write or force fails; the store answers nothing after it
   * @throws CorruptStoreException naming the file and offset that does not verify
   */
  public static SecondaryStore open(Path dir, Consumer<Throwable> onFatal) throws IOException {
    return open(dir, onFatal, AppliedEpochListener.NONE);
  }

  /** As {@link #open(Path, Consumer)}, telling {@code listener} of every epoch applied. */
  public static SecondaryStore open(Path dir, Consumer<Throwable> onFatal,
      AppliedEpochListener listener) throws IOException {
    return open(dir, onFatal, ApplyHook.fromSystemProperty(), listener);
  }

  static SecondaryStore open(Path where, Consumer<Throwable> onFatal, ApplyHook hook)
      throws IOException {
    return open(where, onFatal, hook, AppliedEpochListener.NONE);
  }

  private static SecondaryStore open(Path where, Consumer<Throwable> onFatal, ApplyHook hook,
      AppliedEpochListener listener) throws IOException {
    Path dir = where.toAbsolutePath();
    Durable.createDirectory(dir);
    List<Logged> entries = new ArrayList<>();
    CommitLog log = CommitLog.open(dir.resolve(LOG_FILE), entries);
    Images images = null;
    try {
      images = Images.open(dir.resolve(IMAGES_DIR));
      History history = History.of(log.file(), entries);
      Staging staging = Staging.open(dir.resolve(STAGING_DIR), history.applied);
      SecondaryStore store = new SecondaryStore(log, images, staging, onFatal, hook,
          listener);
      store.applied = history.applied;
      store.appliedClosedAtMillis = history.closedAtMillis;
      store.failedOver = history.failedOver;
      if (history.pending != null) {
        LOG.warn("secondary {}: redoing the apply of epoch {}, interrupted by a crash", dir,
            history.pending.epoch());
        store.apply(history.pending, ApplyHook.NONE);
      }
      if (store.failedOver) {
        staging.discardAll(); // left over from a crash during failover
      }
      LOG.info("secondary {}: applied epoch {}, staged epochs {}, volumes {}{}", dir,
          store.applied, staging.epochs(), images.volumes(),
          store.failedOver ? ", failed over" : "");
      return store;
    } catch (IOException | RuntimeException e) {
      log.close();
      if (images != null) {
        images.close();
      }
      throw e;
    }
  }

  /** The log's records replayed: where the images are, and an apply a crash interrupted. */
  private static final class History {
    long applied;
    long closedAtMillis;
    boolean failedOver;
    Applying pending;

    static History of(Path file, List<Logged> entries) throws CorruptStoreException {
      History h = new History();
      for (Logged l : entries) {
        String wrong = h.replay(l, l == entries.get(0));
        if (wrong != null) {
          throw new CorruptStoreException(file, l.offset(), wrong);
        }
      }
      return h;
    }

    /** Null if the record may follow those before it, else why not. */
    private String replay(Logged l, boolean first) {
      if (failedOver) {
        return l.entry() + " after FAILED_OVER";
      }
      if (l.entry() instanceof Applying a) {
        if (pending != null || !follows(applied, a.epoch())) {
          return "APPLYING " + a.epoch() + " after " + (pending != null
              ? "APPLYING " + pending.epoch() : "applied epoch " + applied);
        }
        pending = a;
      } else if (l.entry() instanceof Applied a) {
        // a compacted log starts with a lone APPLIED
        if (!first && (pending == null || pending.epoch() != a.epoch())) {
          return "APPLIED " + a.epoch() + " without APPLYING " + a.epoch();
        }
        applied = a.epoch();
        closedAtMillis = a.closedAtMillis();
        pending = null;
      } else if (l.entry() instanceof FailedOver f) {
        if (pending != null || f.epoch() != applied) {
          return "FAILED_OVER at epoch " + f.epoch() + " but the images are at epoch " + applied
              + (pending != null ? " with APPLYING " + pending.epoch() : "");
        }
        failedOver = true;
      }
      return null;
    }
  }

  /**
   * Stages a portion durably before returning. Staging it again with the same watermark is a
   * no-op; with another one it is refused. The volume's image is created on its first staging.
   *
   * @throws StatusException FAILED_PRECONDITION (failed over, epoch applied, other volume size),
   *     ALREADY_EXISTS (staged with another watermark)
   */
  public void stage(StagedPortion p) throws StatusException, IOException {
    usable();
    refuseIfFailedOver();
    String volume = p.portion().volume();
    if (p.epoch() <= applied) {
      throw refuse(Status.FAILED_PRECONDITION, "epoch " + p.epoch()
          + " is applied already (applied epoch " + applied + ")");
    }
    long size = images.size(volume);
    if (size >= 0 && size != p.volumeBytes()) {
      throw refuse(Status.FAILED_PRECONDITION, "volume '" + volume + "' is " + size
          + " bytes at this secondary, not " + p.volumeBytes());
    }
    Watermark staged = staging.watermark(p.epoch(), p.portion());
    if (staged != null) {
      if (staged.equals(p.watermark())) {
        return;
      }
      throw refuse(Status.ALREADY_EXISTS, "portion " + p.portion() + " of epoch " + p.epoch()
          + " is staged already with another watermark: " + p.watermark().differencesFrom(staged));
    }
    mutate(() -> {
      if (size < 0) {
        images.create(volume, p.volumeBytes());
      }
      staging.stage(p);
      return null;
    });
  }

  /** Epochs apply one after the other; a store that never applied one starts anywhere. */
  private static boolean follows(long applied, long epoch) {
    return applied == 0 || epoch == applied + 1;
  }

  /**
   * Applies epoch (see the class comment); an epoch applied already is answered at once.
   * Returns the applied epoch.
   *
   * @throws StatusException INVALID_ARGUMENT (epoch below 1), FAILED_PRECONDITION (failed over,
   *     not the next epoch, an expected portion not staged)
   */
  public long commit(long epoch, long closedAtMillis, Collection<Portion> expected)
      throws StatusException, IOException {
    usable();
    refuseIfFailedOver();
    if (epoch < 1) {
      throw refuse(Status.INVALID_ARGUMENT, "epoch " + epoch + " is not positive");
    }
    if (epoch <= applied) {
      return applied;
    }
    if (!follows(applied, epoch)) {
      throw refuse(Status.FAILED_PRECONDITION, "epoch " + epoch + " cannot be applied before epoch "
          + (applied + 1) + " (applied epoch " + applied + ")");
    }
    List<Portion> portions = List.copyOf(new TreeSet<>(expected));
    for (Portion p : portions) {
      if (staging.watermark(epoch, p) == null) {
        throw refuse(Status.FAILED_PRECONDITION, "portion " + p + " of epoch " + epoch
            + " is not staged");
      }
    }
    return mutate(() -> {
      Applying applying = new Applying(epoch, closedAtMillis, portions);
      log.append(applying);
      hook.afterUpdate(epoch, 0);
      apply(applying, hook);
      return applied;
    });
  }

  /** Writes the epoch's staged updates into the images, then finishes it (APPLYING is logged). */
  private void apply(Applying a, ApplyHook hook) throws IOException {
    long written = 0;
    SortedSet<String> volumes = new TreeSet<>();
    for (Portion p : a.portions()) {
      for (Update u : staging.load(a.epoch(), p).updates()) {
        images.write(p.volume(), u.offset(), u.data());
        hook.afterUpdate(a.epoch(), ++written);
      }
      volumes.add(p.volume());
    }
    images.force(volumes);
    Applied done = new Applied(a.epoch(), a.closedAtMillis());
    log.append(done);
    applied = a.epoch();
    appliedClosedAtMillis = a.closedAtMillis();
    staging.discard(a.epoch());
    if (log.size() > CommitLog.COMPACT_BYTES) {
      log.rewrite(List.of(done));
    }
    LOG.debug("applied epoch {}: {} updates in {} portions", a.epoch(), written,
        a.portions().size());
    try {
      listener.applied(a.epoch(), this);
    } catch (Exception | AssertionError e) {
      LOG.warn("listener of applied epoch {} failed: {}", a.epoch(), String.valueOf(e));
    }
  }

  /**
   * Stops applying for good: persists FAILED_OVER at the applied epoch and discards the staging
   * of every later epoch. Returns how many epochs were discarded (0 if failed over already).
   */
  public int failover() throws IOException {
    usable();
    if (failedOver) {
      return 0;
    }
    return mutate(() -> {
      log.append(new FailedOver(applied));
      failedOver = true;
      int discarded = staging.discardAll();
      LOG.warn("failed over at epoch {}; discarded the staging of {} later epochs", applied,
          discarded);
      return discarded;
    });
  }

  /**
   * Bytes of a volume's image (zeros where never written).
   *
   * @throws StatusException NOT_FOUND (no such volume), OUT_OF_RANGE (outside the volume),
   *     INVALID_ARGUMENT (negative length or more than {@link #MAX_READ_BYTES})
   */
  public byte[] read(String volume, long offset, long length) throws StatusException, IOException {
    usable();
    long size = images.size(volume);
    if (size < 0) {
      throw refuse(Status.NOT_FOUND, "volume '" + volume + "' does not exist at this secondary");
    }
    if (length < 0 || length > MAX_READ_BYTES) {
      throw refuse(Status.INVALID_ARGUMENT, "length " + length + " is not between 0 and "
          + MAX_READ_BYTES);
    }
    if (offset < 0 || offset > size - length) {
      throw refuse(Status.OUT_OF_RANGE, "offset " + offset + " + length " + length
          + " is outside volume '" + volume + "' (" + size + " bytes)");
    }
    return images.read(volume, offset, (int) length);
  }

  public State state() throws IOException {
    usable();
    return new State(applied, appliedClosedAtMillis, staging.epochs(), failedOver,
        images.volumes());
  }

  public long appliedEpoch() {
    return applied;
  }

  @Override
  public void close() throws IOException {
    try {
      log.close();
    } finally {
      images.close();
    }
  }

  private void usable() throws IOException {
    if (failure != null) {
      throw new IOException("the secondary store failed and answers nothing more until it is "
          + "restarted: " + failure, failure);
    }
  }

  private void refuseIfFailedOver() throws StatusException {
    if (failedOver) {
      throw refuse(Status.FAILED_PRECONDITION, "failed over at epoch " + applied);
    }
  }

  private static StatusException refuse(Status status, String why) {
    return status.withDescription(why).asException();
  }

  private <T> T mutate(Mutation<T> m) throws IOException {
    try {
      return m.run();
    } catch (IOException | RuntimeException | Error e) {
      failure = e;
      LOG.error("secondary store failed; it answers nothing more", e);
      onFatal.accept(e);
      throw e;
    }
  }
}
