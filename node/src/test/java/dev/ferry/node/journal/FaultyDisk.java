package dev.ferry.node.journal;

import com.google.common.util.concurrent.Uninterruptibles;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The real disk, with hooks on the segment files: it counts forces, can run a fault before a
 * force or a write (block, throw), and can stop a gathering write halfway, as a crash would.
 * Directory forces are neither counted nor hooked. It can also play a disk with little space
 * left ({@link #spaceLeft}): writes to segment files take what fits, then fail with ENOSPC.
 */
public final class FaultyDisk implements Disk {
  /** Runs on the writer thread before the operation; may block or throw. */
  public interface Fault {
    void hit(Path file) throws IOException;
  }

  private final AtomicInteger segmentForces = new AtomicInteger();
  private final CountDownLatch tornWriteStarted = new CountDownLatch(1);
  private volatile Fault beforeForce = file -> { };
  private volatile Fault beforeWrite = file -> { };
  private volatile Gate tearNextWriteUntil;
  private volatile int tearMinRecords;
  /** Bytes segment writes may still take; unlimited by default. Guarded by this. */
  private long spaceLeft = Long.MAX_VALUE;

  @Override
  public FileChannel open(Path file, OpenOption... options) throws IOException {
    FileChannel real = FileChannel.open(file, options);
    return Segment.firstRecordOf(file).isPresent() ? new HookedChannel(file, real) : real;
  }

  /**
   * From now on, writes to segment files may take {@code bytes} more bytes in all: a write that
   * does not fit writes the bytes that do (a short write), the next fails with an IOException
   * "No space left on device", as Linux reports ENOSPC. Truncating gives nothing back; call this
   * again to free space. {@code Long.MAX_VALUE}: unlimited.
   */
  public synchronized void spaceLeft(long bytes) {
    spaceLeft = bytes;
  }

  /** How many bytes a write of {@code wanted} may take now; throws ENOSPC if none. */
  private synchronized long take(long wanted) throws IOException {
    if (wanted == 0 || spaceLeft == Long.MAX_VALUE) {
      return wanted;
    }
    if (spaceLeft == 0) {
      throw new IOException("No space left on device");
    }
    long granted = Math.min(wanted, spaceLeft);
    spaceLeft -= granted;
    return granted;
  }

  public int segmentForces() {
    return segmentForces.get();
  }

  public void beforeForce(Fault fault) {
    beforeForce = fault;
  }

  void beforeWrite(Fault fault) {
    beforeWrite = fault;
  }

  /**
   * The next gathering write of at least {@code minRecords} buffers writes half its bytes, then
   * waits for {@code gate} and fails: the process stopped mid-write. Returns a latch that opens
   * once that write is stuck.
   */
  CountDownLatch tearNextWrite(int minRecords, Gate gate) {
    tearMinRecords = minRecords;
    tearNextWriteUntil = gate;
    return tornWriteStarted;
  }

  /**
   * Holds the writer until opened. Declared as a resource after the journal, it opens before the
   * journal closes, also after a failed assertion, so close() never waits on a held writer.
   */
  public static final class Gate implements Closeable {
    private final CountDownLatch latch = new CountDownLatch(1);

    public void open() {
      latch.countDown();
    }

    /** A fault that waits for the gate. */
    public Fault holds() {
      return file -> await();
    }

    void await() {
      Uninterruptibles.awaitUninterruptibly(latch);
    }

    @Override
    public void close() {
      open();
    }
  }

  private final class HookedChannel extends FileChannel {
    private final Path file;
    private final FileChannel real;

    HookedChannel(Path file, FileChannel real) {
      this.file = file;
      this.real = real;
    }

    @Override
    public void force(boolean metaData) throws IOException {
      segmentForces.incrementAndGet();
      beforeForce.hit(file);
      real.force(metaData);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      beforeWrite.hit(file);
      int granted = (int) take(src.remaining());
      int w = real.write(src.slice(src.position(), granted));
      src.position(src.position() + w);
      return w;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
      beforeWrite.hit(file);
      Gate gate = tearNextWriteUntil;
      if (gate == null || length < tearMinRecords) {
        long wanted = 0;
        for (int i = offset; i < offset + length; i++) {
          wanted += srcs[i].remaining();
        }
        long granted = take(wanted);
        if (granted == wanted) {
          return real.write(srcs, offset, length);
        }
        long written = 0;
        for (int i = offset; i < offset + length && written < granted; i++) {
          int part = (int) Math.min(granted - written, srcs[i].remaining());
          int w = real.write(srcs[i].slice(srcs[i].position(), part));
          srcs[i].position(srcs[i].position() + w);
          written += w;
        }
        return written;
      }
      tearNextWriteUntil = null;
      long half = 0;
      for (int i = offset; i < offset + length; i++) {
        half += srcs[i].remaining();
      }
      half /= 2;
      for (int i = offset; i < offset + length && half > 0; i++) {
        int part = (int) Math.min(half, srcs[i].remaining());
        half -= real.write(srcs[i].slice(srcs[i].position(), part));
      }
      tornWriteStarted.countDown();
      gate.await();
      throw new IOException("power lost mid-write");
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
      beforeWrite.hit(file);
      int granted = (int) take(src.remaining());
      int w = real.write(src.slice(src.position(), granted), position);
      src.position(src.position() + w);
      return w;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return real.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      return real.read(dsts, offset, length);
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
      return real.read(dst, position);
    }

    @Override
    public long position() throws IOException {
      return real.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
      real.position(newPosition);
      return this;
    }

    @Override
    public long size() throws IOException {
      return real.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
      real.truncate(size);
      return this;
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target)
        throws IOException {
      return real.transferTo(position, count, target);
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count)
        throws IOException {
      return real.transferFrom(src, position, count);
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
      return real.map(mode, position, size);
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
      return real.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
      return real.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
      real.close();
    }
  }
}
