package dev.ferry.node.journal;

import com.google.common.base.Preconditions;
import com.google.common.base.Throwables;
import com.google.common.util.concurrent.Uninterruptibles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The node's journal: every update copy the node holds (owned, mirrored, forwarded) and the
 * sequence numbers of its forwarded copies, kept on disk until their epoch is applied at the
 * secondary.
 *
 * <p>On disk: files {@code segment-<20-digit sequence of the first record>.log} in one
 * directory. Each starts with an 8-byte header, big-endian:
 *
 * <pre>
 *   offset size  field
 *   0      4     magic 'F','J','S','G'
 *   4      4     format version: 2 is written; 1 and 2 are read (version 1 has no record of
 *                type 5). A version this code does not know fails open, naming the file.
 * </pre>
 *
 * followed by records, each self-verifying; big-endian, offsets within the record:
 *
 * <pre>
 *   offset       size  field
 *   0            4     magic 'F','J','R','C'
 *   4            4     length L: the bytes after this field (the record takes 8 + L bytes)
 *   8            4     CRC32C of bytes 12 .. 8+L (everything after this field)
 *   12           1     type: 1 OWNED, 2 MIRROR, 3 FORWARDED, 4 SEQUENCED, 5 FORWARD_DROPPED
 *   13           8     epoch
 *   21           4     region
 *   25           8     n
 *   33           8     clientSeq
 *   41           8     offset (in the volume)
 *   49           2     volume length V (UTF-8 bytes)
 *   51           V     volume
 *   51+V         2     primaryId length P
 *   53+V         P     primaryId
 *   53+V+P       2     peer length R
 *   55+V+P       R     peer
 *   55+V+P+R     4     data length D
 *   59+V+P+R     D     data
 * </pre>
 *
 * A new segment starts when the next record would take the active one past {@code segmentBytes};
 * no record may be larger than a segment less its header.
 *
 * <p>Threading: {@link #append} encodes on the caller's thread and queues; one writer thread,
 * {@code ferry-journal-writer}, alone touches the files once {@link #open} has returned. It does
 * group commit: it takes every queued append, writes them with one gathering write per segment,
 * forces once for the whole batch when {@code sync} is set, then completes the batch's futures
 * (on the writer thread: dependent stages must not block; use the async variants for real work).
 * With {@code sync} off ("mirrored") appends are written, not forced; a segment is still forced
 * when it is closed for the next one and at {@link #close}, so a crash can only tear the last
 * segment.
 *
 * <p>Faults: a failed force is fatal and never retried (after a failed fsync the kernel may have
 * dropped the dirty pages; a later fsync that succeeds proves nothing), and so is a failed write
 * for any reason but a full disk. Every pending and later append fails with
 * {@link JournalFailedException}, the writer stops, and {@code onFatal} is called once. A full
 * disk (ENOSPC, EDQUOT) when writing a batch or creating a segment is not fatal: the appends
 * from the run it hit on fail with {@link JournalDiskFullException}, the segment is truncated
 * back to the end of its last complete record and forced (a half-made segment is deleted), and
 * the next append is tried as usual, so the journal writes again once there is space. The cut
 * bytes belong only to appends that fail; none was forced or acknowledged.
 *
 * <p>Recovery at open reads the segments in order and verifies each record's magic, length and
 * CRC. In the last segment, a torn tail is cut and logged: trailing zero bytes, a record the file
 * ends inside (unless a valid record can be found after its start, which means its length field
 * is damaged), or a record failing its CRC that only zero bytes follow. Anything else that does
 * not verify, in any segment, is corruption: open fails with "corrupt journal FILE at offset O:
 * WHY" and never skips data.
 *
 * <p>Reading back: {@link #appendAt} and {@link #openAt} give each record's location, and
 * {@link #read} reads it again, verified like at recovery; so the node keeps locations of
 * un-applied payloads in memory, not the payloads.
 *
 * <p>Space: {@link #release} deletes closed segments whose records all belong to applied epochs.
 * A FORWARDED copy counts with the epoch of its SEQUENCED record, matched by (primaryId,
 * clientSeq), and pins its segment until that record, or a FORWARD_DROPPED one, is appended. Deleted segments may be
 * anywhere in the sequence, so replay can meet a SEQUENCED record whose FORWARDED copy is gone.
 * The budget counts bytes on disk plus bytes queued; segment headers are added as segments are
 * created and may take it past the budget by 8 bytes a segment.
 */
public final class Journal implements AutoCloseable {
  private static final Logger LOG = LogManager.getLogger(Journal.class);

  /** Work for the writer thread. */
  private sealed interface Op permits Append, Release, Close {
    void fail(Throwable cause);
  }

  /** {@code size}: the encoded record's bytes (the buffer's remaining bytes before writing). */
  private record Append(JournalRecord record, ByteBuffer bytes, int size,
      CompletableFuture<JournalLocation> done) implements Op {
    @Override
    public void fail(Throwable cause) {
      done.completeExceptionally(cause);
    }
  }

  private record Release(long appliedEpoch, CompletableFuture<Long> freed) implements Op {
    @Override
    public void fail(Throwable cause) {
      freed.completeExceptionally(cause);
    }
  }

  private enum Close implements Op {
    INSTANCE;

    @Override
    public void fail(Throwable cause) {
      // close() waits for the writer to end, not for this
    }
  }

  private final Path dir;
  private final JournalOptions options;
  private final LinkedBlockingQueue<Op> queue = new LinkedBlockingQueue<>();
  private final AtomicLong diskBytes;
  private final Thread writer;

  private final Object lock = new Object();
  /** Bytes on disk plus bytes queued: what the budget limits. Guarded by lock. */
  private long claimedBytes;
  /** Guarded by lock. */
  private boolean closed;
  /** Set under lock, once; read without it for the fast path. */
  private volatile JournalFailedException failure;

  /** Writer thread only. */
  private final Segments segments;
  /**
   * The active segment's channel; null after a roll could not create the next segment (disk
   * full). Writer thread only.
   */
  private FileChannel active;
  /** The last batch met a full disk: logged once until a write succeeds again. Writer only. */
  private boolean diskFull;
  /** Read channels of segments, opened by {@link #read}; guarded by itself. */
  private final java.util.Map<Path, FileChannel> readers = new java.util.HashMap<>();

  private Journal(Path dir, JournalOptions options, Recovery.Result recovered) {
    this.dir = dir;
    this.options = options;
    this.segments = recovered.segments();
    this.active = recovered.active();
    this.diskBytes = new AtomicLong(segments.totalBytes());
    this.claimedBytes = diskBytes.get();
    this.writer = new Thread(this::writeLoop, "ferry-journal-writer");
    writer.setDaemon(true);
  }

  /**
   * Opens (creating if absent) and recovers the journal in dir, calling replay for every valid
   * record in append order before returning. Torn tail of the last segment: cut. Any other bad
   * record: IOException naming the file and the byte offset ("corrupt journal FILE at offset O:
   * WHY").
   */
  public static Journal open(Path dir, JournalOptions options, Consumer<JournalRecord> replay)
      throws IOException {
    return openAt(dir, options, stored -> replay.accept(stored.record()));
  }

  /** {@link #open}, replaying every record with its location (to {@link #read} it again). */
  public static Journal openAt(Path dir, JournalOptions options, Consumer<StoredRecord> replay)
      throws IOException {
    Recovery.Result recovered = Recovery.run(dir, options.disk(), replay);
    Journal journal = new Journal(dir, options, recovered);
    LOG.info("journal {}: recovered {} records in {} segments ({} bytes)", dir,
        recovered.records(), recovered.segments().count(), journal.bytesUsed());
    journal.writer.start();
    return journal;
  }

  /**
   * Queues the record; the future completes when it is written (and forced, if options.sync()).
   * Fails with JournalFullException (budget exceeded, nothing written) or JournalFailedException
   * (fatal I/O; journal unusable); with IllegalArgumentException for a record larger than a
   * segment or a string longer than 65,535 UTF-8 bytes; with IllegalStateException once closed.
   */
  public CompletableFuture<Void> append(JournalRecord record) {
    return appendAt(record).thenApply(at -> null);
  }

  /** {@link #append}, completing with where the record was written. */
  public CompletableFuture<JournalLocation> appendAt(JournalRecord record) {
    if (record.data().length > options.segmentBytes()) {
      return CompletableFuture.failedFuture(tooLarge(record.data().length));
    }
    ByteBuffer bytes;
    try {
      bytes = RecordCodec.encode(record);
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(e);
    }
    int size = bytes.remaining();
    if (size > options.segmentBytes() - Segment.HEADER_BYTES) {
      return CompletableFuture.failedFuture(tooLarge(size));
    }
    Append op = new Append(record, bytes, size, new CompletableFuture<>());
    synchronized (lock) {
      if (failure != null) {
        return CompletableFuture.failedFuture(failure);
      }
      if (closed) {
        return CompletableFuture.failedFuture(closedException());
      }
      if (claimedBytes + size > options.budgetBytes()) {
        long onDisk = diskBytes.get();
        return CompletableFuture.failedFuture(new JournalFullException(options.budgetBytes(),
            onDisk, claimedBytes - onDisk, size));
      }
      claimedBytes += size;
      queue.add(op);
    }
    return op.done();
  }

  /**
   * Deletes the closed segments whose records all belong to epochs at or before appliedEpoch
   * (see the class comment for forwarded copies); never the active segment. Runs on the writer
   * thread after the appends queued before it. Returns the bytes freed.
   */
  public long release(long appliedEpoch) throws IOException {
    Preconditions.checkState(Thread.currentThread() != writer,
        "release from the journal writer (a future's callback) would wait for itself");
    Release op = new Release(appliedEpoch, new CompletableFuture<>());
    synchronized (lock) {
      if (failure != null) {
        throw failure;
      }
      if (closed) {
        throw closedException();
      }
      queue.add(op);
    }
    try {
      return Uninterruptibles.getUninterruptibly(op.freed());
    } catch (ExecutionException e) {
      Throwables.throwIfInstanceOf(e.getCause(), IOException.class);
      throw new IOException(e.getCause());
    }
  }

  /**
   * Reads a record back from where {@link #appendAt} or the replay at open said it lies, and
   * verifies it (magic, length, CRC) as recovery does. Any thread; positional reads of the
   * segment files, which stay open for reading until released.
   *
   * @throws IOException if its segment was released (its epoch is applied), or it does not
   *     verify (corruption)
   */
  public JournalRecord read(JournalLocation at) throws IOException {
    FileChannel ch;
    synchronized (readers) {
      ch = readers.get(at.segment());
      if (ch == null) {
        ch = FileChannel.open(at.segment(), java.nio.file.StandardOpenOption.READ);
        readers.put(at.segment(), ch);
      }
    }
    byte[] bytes = new byte[at.size()];
    ByteBuffer b = ByteBuffer.wrap(bytes);
    while (b.hasRemaining()) {
      if (ch.read(b, at.position() + b.position()) < 0) {
        throw Recovery.corrupt(at.segment(), at.position(), "the file ends inside the record");
      }
    }
    if (b.getInt(0) != RecordCodec.MAGIC || b.getInt(4) != at.size() - RecordCodec.PREFIX_BYTES
        || b.getInt(RecordCodec.CRC_OFFSET) != RecordCodec.checksum(bytes, 0, at.size())) {
      throw Recovery.corrupt(at.segment(), at.position(), "record read back does not verify");
    }
    try {
      return RecordCodec.decode(bytes, 0, at.size());
    } catch (IllegalArgumentException e) {
      throw Recovery.corrupt(at.segment(), at.position(), "malformed record: " + e.getMessage());
    }
  }

  /** Bytes on disk in all segments, headers included; queued appends are not counted. */
  public long bytesUsed() {
    return diskBytes.get();
  }

  /** Drains queued appends, forces, closes files. Idempotent. */
  @Override
  public void close() {
    Preconditions.checkState(Thread.currentThread() != writer,
        "close from the journal writer (a future's callback) would wait for itself");
    synchronized (lock) {
      if (!closed && failure == null) {
        queue.add(Close.INSTANCE);
      }
      closed = true;
    }
    Uninterruptibles.joinUninterruptibly(writer);
    List<Path> open;
    synchronized (readers) {
      open = new ArrayList<>(readers.keySet());
    }
    open.forEach(this::closeReader);
  }

  private IllegalStateException closedException() {
    return new IllegalStateException("journal " + dir + " is closed");
  }

  private IllegalArgumentException tooLarge(long size) {
    return new IllegalArgumentException("a record of " + size
        + " bytes does not fit in a journal segment of " + options.segmentBytes() + " bytes");
  }

  private void writeLoop() {
    List<Op> batch = new ArrayList<>();
    try {
      boolean open = true;
      while (open) {
        batch.add(Uninterruptibles.takeUninterruptibly(queue));
        queue.drainTo(batch);
        open = process(batch);
        batch.clear();
      }
    } catch (JournalFailedException e) {
      die(e, batch);
    } catch (RuntimeException | Error e) {
      die(new JournalFailedException(segments.active().file, e), batch);
    }
  }

  /** Runs one batch in queue order; false once the journal is closed. */
  private boolean process(List<Op> batch) throws JournalFailedException {
    List<Append> appends = new ArrayList<>(batch.size());
    for (Op op : batch) {
      if (op instanceof Append a) {
        appends.add(a);
        continue;
      }
      commit(appends);
      appends.clear();
      if (op instanceof Release r) {
        release(r);
      } else {
        if (active != null) {
          force(segments.active());
        }
        closeActive();
        return false;
      }
    }
    commit(appends);
    return true;
  }

  /**
   * Writes the appends (one gathering write per segment), forces once if sync, then completes
   * their futures. A full disk fails the appends from the run it hit on with
   * {@link JournalDiskFullException}, after cutting the segment back (see {@link #cutBack});
   * the appends of earlier runs, in segments closed (and forced) by a roll, complete normally.
   */
  private void commit(List<Append> appends) throws JournalFailedException {
    if (appends.isEmpty()) {
      return;
    }
    List<JournalLocation> at = new ArrayList<>(appends.size());
    int i = 0;
    JournalDiskFullException full = null;
    try {
      while (i < appends.size()) {
        if (active == null || segments.active().bytes + appends.get(i).size()
            > options.segmentBytes()) {
          roll();
        }
        Segment s = segments.active();
        long start = s.bytes;
        long end = start;
        int j = i;
        while (j < appends.size() && end + appends.get(j).size() <= options.segmentBytes()) {
          end += appends.get(j).size();
          j++;
        }
        write(appends.subList(i, j), start, end - start);
        // accounted only once written: a run cut back leaves the segment as it was
        for (Append a : appends.subList(i, j)) {
          at.add(new JournalLocation(s.file, s.bytes, a.size()));
          segments.account(a.record(), s, a.size());
        }
        i = j;
      }
    } catch (JournalDiskFullException e) {
      full = e;
    }
    if (full != null) {
      refuse(appends.subList(i, appends.size()), full);
      // the runs before the refused one lie in segments that a roll forced and closed
    } else {
      if (options.sync()) {
        force(segments.active());
      }
      if (diskFull) {
        diskFull = false;
        LOG.info("journal {}: writing again after the disk was full", dir);
      }
    }
    for (int k = 0; k < i; k++) {
      appends.get(k).done().complete(at.get(k));
    }
  }

  /** Fails appends refused by a full disk; their budget claim is given back. */
  private void refuse(List<Append> refused, JournalDiskFullException full) {
    long bytes = refused.stream().mapToLong(Append::size).sum();
    synchronized (lock) {
      claimedBytes -= bytes;
    }
    if (!diskFull) {
      diskFull = true;
      LOG.warn("{}: {} append(s) refused; later appends are tried again", full.getMessage(),
          refused.size());
    } else {
      LOG.debug("{}: {} append(s) refused", full.getMessage(), refused.size());
    }
    refused.forEach(a -> a.done().completeExceptionally(full));
  }

  /**
   * Writes one run of appends at {@code start} of the active segment. On a full disk, cuts the
   * segment back to {@code start} and throws JournalDiskFullException; any other error is fatal.
   */
  private void write(List<Append> run, long start, long size) throws JournalFailedException,
      JournalDiskFullException {
    ByteBuffer[] buffers = run.stream().map(Append::bytes).toArray(ByteBuffer[]::new);
    try {
      for (long written = 0; written < size; ) {
        written += active.write(buffers);
      }
    } catch (IOException e) {
      if (!JournalDiskFullException.isDiskFull(e)) {
        throw new JournalFailedException(segments.active().file, e);
      }
      cutBack(start, e);
      throw new JournalDiskFullException(dir, e);
    }
    diskBytes.addAndGet(size);
  }

  /**
   * After a write the disk refused: truncates the active segment to {@code length}, the end of
   * its last record written completely before this run, and forces that. Safe: the bytes cut
   * belong to appends that are about to fail, none of them was forced or acknowledged, and
   * every earlier record stays as it was. The force makes the cut durable before anything is
   * written over the same offsets, so a crash can never leave pieces of the refused run between
   * records written later (which recovery would have to call corruption). A failed truncate or
   * force is fatal, like any force.
   */
  private void cutBack(long length, IOException cause) throws JournalFailedException {
    Path file = segments.active().file;
    try {
      active.truncate(length);
      active.position(length);
    } catch (IOException e) {
      e.addSuppressed(cause);
      throw new JournalFailedException(file, e);
    }
    force(segments.active());
  }

  private void force(Segment s) throws JournalFailedException {
    try {
      active.force(false);
    } catch (IOException e) {
      throw new JournalFailedException(s.file, e);
    }
  }

  /**
   * Closes the full active segment (forced, in either mode) and starts the next one. A full disk
   * while creating it deletes the file again and throws JournalDiskFullException, leaving no
   * active channel: the next append tries to create the segment again.
   */
  private void roll() throws JournalFailedException, JournalDiskFullException {
    Segment full = segments.active();
    if (active != null) {
      force(full);
      closeActive();
      active = null;
    }
    Segment next = Segment.named(dir, full.endRecord());
    try {
      active = next.create(options.disk());
    } catch (IOException e) {
      if (!JournalDiskFullException.isDiskFull(e)) {
        throw new JournalFailedException(next.file, e);
      }
      try {
        // the file may exist with part of a header: recovery would cut it, but a retry of
        // CREATE_NEW could not create it again
        Files.deleteIfExists(next.file);
      } catch (IOException d) {
        d.addSuppressed(e);
        throw new JournalFailedException(next.file, d);
      }
      throw new JournalDiskFullException(dir, e);
    }
    segments.add(next);
    diskBytes.addAndGet(next.bytes);
    synchronized (lock) {
      claimedBytes += next.bytes;
    }
  }

  private void closeActive() throws JournalFailedException {
    if (active == null) {
      return; // a segment could not be created (disk full): nothing is open
    }
    try {
      active.close();
    } catch (IOException e) {
      throw new JournalFailedException(segments.active().file, e);
    }
  }

  private void release(Release op) {
    long freed = 0;
    IOException error = null;
    try {
      for (Segment s : segments.releasable(op.appliedEpoch())) {
        closeReader(s.file);
        Files.delete(s.file);
        segments.remove(s);
        freed += s.bytes;
      }
    } catch (IOException e) {
      // not fatal: nothing acknowledged is at risk, the space just stays in use
      error = e;
    }
    // accounted before the caller wakes up, so it sees the space freed
    diskBytes.addAndGet(-freed);
    synchronized (lock) {
      claimedBytes -= freed;
    }
    LOG.debug("journal {}: released {} bytes up to epoch {}", dir, freed, op.appliedEpoch());
    if (error != null) {
      op.freed().completeExceptionally(error);
    } else {
      op.freed().complete(freed);
    }
  }

  private void closeReader(Path segment) {
    FileChannel ch;
    synchronized (readers) {
      ch = readers.remove(segment);
    }
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException e) {
        LOG.warn("closing the read channel of {}: {}", segment, e.toString());
      }
    }
  }

  /** Fails everything pending and everything after, then tells the node, once. */
  private void die(JournalFailedException e, List<Op> batch) {
    List<Op> stranded = new ArrayList<>(batch);
    synchronized (lock) {
      failure = e;
      queue.drainTo(stranded);
    }
    stranded.forEach(op -> op.fail(e));
    try {
      if (active != null) {
        active.close();
      }
    } catch (IOException | RuntimeException ignored) {
      // the journal is dead already; the cause that matters is e
    }
    LOG.error("journal {} failed; it accepts nothing more", dir, e);
    try {
      options.onFatal().accept(e);
    } catch (RuntimeException t) {
      LOG.error("journal onFatal handler threw", t);
    }
  }
}
