package dev.ferry.client;

import com.google.common.net.HostAndPort;
import com.google.protobuf.ByteString;
import dev.ferry.proto.control.ClusterStateSnapshot;
import dev.ferry.proto.control.Member;
import dev.ferry.proto.control.Volume;
import dev.ferry.proto.control.VolumeAssignment;
import dev.ferry.proto.ingest.IngestGrpc;
import dev.ferry.proto.ingest.WriteRequest;
import dev.ferry.proto.ingest.WriteResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * A primary's connection to a Ferry cluster. It learns the committed assignment from any node
 * (and follows changes), sends each write straight to its portion's owner over one Ingest stream
 * per node, pipelines up to {@code window} writes, and retries a write with the same client
 * sequence number (so each write is stored once) after learning the assignment again, for up to
 * {@code retryFor}, on every error but the final ones: {@code INVALID_ARGUMENT},
 * {@code OUT_OF_RANGE}, {@code DATA_LOSS} (the write itself is wrong), {@code NOT_FOUND} once a
 * fresh assignment confirms that the volume does not exist (a node that has not loaded its state
 * may say so wrongly), and the call-level {@code UNIMPLEMENTED}, {@code PERMISSION_DENIED},
 * {@code UNAUTHENTICATED}. Fencing between nodes ({@code FAILED_PRECONDITION}: a stale assignment
 * version), {@code UNAVAILABLE}, timeouts, {@code RESOURCE_EXHAUSTED} (the journal budget frees as
 * epochs apply), {@code INTERNAL} and {@code UNKNOWN} are retried.
 *
 * <p>Thread-safe. {@link #write} blocks while the window is full (backpressure).
 */
public final class PrimaryClient implements AutoCloseable {
  /** What the cluster answered for one write: its place in its portion's order. */
  public record WriteAck(long clientSeq, long epoch, long n) {}

  private final String primaryId;
  private final AdminClient admin;
  private final Semaphore window;
  private final Duration retryFor;
  private final Duration answerDeadline;
  private final AtomicLong nextSeq = new AtomicLong();
  private final AtomicLong sent = new AtomicLong();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ferry-primary-client");
    t.setDaemon(true);
    return t;
  });
  private final Map<String, NodeStream> streams = new ConcurrentHashMap<>();
  private volatile ClusterStateSnapshot state;
  private volatile Map<String, Integer> volumeIndex = Map.of();
  private volatile boolean closed;
  /**
   * When a slow write's retry was last logged: a write not acknowledged for
   * {@link #SLOW_WRITE_NANOS} logs why it is retried, one line per 2 s per client, so an
   * operator (or a soak's failure digest) sees what the cluster answers while writes stand still.
   */
  private volatile long slowRetryLoggedAtNanos = System.nanoTime() - SLOW_LOG_EVERY_NANOS;
  private static final long SLOW_WRITE_NANOS = TimeUnit.SECONDS.toNanos(5);
  private static final long SLOW_LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(2);
  private static final org.apache.logging.log4j.Logger LOG =
      org.apache.logging.log4j.LogManager.getLogger(PrimaryClient.class);

  /** Errors no retry can change: the write itself is wrong, or the call is not allowed. */
  private static final java.util.Set<Status.Code> FINAL = java.util.EnumSet.of(
      Status.Code.INVALID_ARGUMENT, Status.Code.OUT_OF_RANGE, Status.Code.DATA_LOSS,
      Status.Code.UNIMPLEMENTED, Status.Code.PERMISSION_DENIED, Status.Code.UNAUTHENTICATED);

  /**
   * @param nodes any nodes of the cluster (their node.listen)
   * @param window writes in flight at most
   * @param retryFor how long a write is retried on a retryable error (see the class comment)
   */
  public PrimaryClient(List<HostAndPort> nodes, String primaryId, int window, Duration retryFor) {
    this(nodes, primaryId, window, retryFor, ANSWER_DEADLINE);
  }

  /**
   * How long a write sent on an open stream waits for the node's answer before it is sent
   * again (same client_seq: the node answers the number it gave, or numbers it now). Without
   * it, a write held inside a node that never answered waited forever, and a dependent writer
   * with it: retryFor counted only from an error.
   */
  public static final Duration ANSWER_DEADLINE = Duration.ofSeconds(10);

  /** As above, with the answer deadline given (tests). */
  public PrimaryClient(List<HostAndPort> nodes, String primaryId, int window, Duration retryFor,
      Duration answerDeadline) {
    this.answerDeadline = answerDeadline;
    if (primaryId.isEmpty()) {
      throw new IllegalArgumentException("primaryId is empty");
    }
    this.primaryId = primaryId;
    this.admin = new AdminClient(nodes, Duration.ofSeconds(5));
    this.window = new Semaphore(window);
    this.retryFor = retryFor;
    refresh();
    timer.scheduleWithFixedDelay(this::refreshQuietly, 1, 1, TimeUnit.SECONDS);
  }

  /** Writes handed to the cluster so far. */
  public long sent() {
    return sent.get();
  }

  public String primaryId() {
    return primaryId;
  }

  /** The cluster state this client routes by. */
  public ClusterStateSnapshot state() {
    return state;
  }

  /**
   * Re-reads the committed assignment from the cluster, from whichever node has applied the
   * most ({@link AdminClient#newestClusterState}). An answer older than the assignment known
   * (every node that answered lags) does not replace it.
   *
   * @return whether the state now held is as new as the cluster's answer (not older than before)
   */
  public synchronized boolean refresh() {
    ClusterStateSnapshot s = admin.newestClusterState();
    ClusterStateSnapshot known = state;
    if (known != null && s.getAssignmentVersion() < known.getAssignmentVersion()) {
      return false;
    }
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < s.getVolumesCount(); i++) {
      index.put(s.getVolumes(i).getName(), i);
    }
    volumeIndex = index;
    state = s;
    return true;
  }

  private boolean refreshQuietly() {
    try {
      return refresh();
    } catch (RuntimeException e) {
      // keep the last known state; the next tick or a retry asks again
      return false;
    }
  }

  /** Region size of a volume, for callers that must keep writes inside one region. */
  public long regionSize(String volume) {
    return volume(volume).getRegionSizeBytes();
  }

  public long volumeSize(String volume) {
    return volume(volume).getSizeBytes();
  }

  private Volume volume(String name) {
    Integer i = volumeIndex.get(name);
    if (i == null) {
      throw new IllegalArgumentException("volume '" + name + "' does not exist");
    }
    return state.getVolumes(i);
  }

  /**
   * Writes {@code data} at {@code offset} (inside one region). Blocks while the window is full;
   * the future completes with the write's sequence number, or exceptionally with a
   * {@link StatusRuntimeException} when the cluster rejects it or retries run out.
   */
  public CompletableFuture<WriteAck> write(String volume, long offset, byte[] data)
      throws InterruptedException {
    CRC32C crc = new CRC32C();
    crc.update(data);
    WriteRequest w = WriteRequest.newBuilder().setPrimaryId(primaryId)
        .setClientSeq(nextSeq.incrementAndGet()).setVolume(volume).setOffset(offset)
        .setData(ByteString.copyFrom(data)).setCrc32C((int) crc.getValue()).build();
    window.acquire();
    sent.incrementAndGet();
    CompletableFuture<WriteAck> result = new CompletableFuture<>();
    result.whenComplete((a, e) -> window.release());
    send(w, result, System.nanoTime() + retryFor.toNanos());
    return result;
  }

  private void send(WriteRequest w, CompletableFuture<WriteAck> result, long deadline) {
    String target;
    try {
      target = ingestAddressOf(w);
    } catch (StatusRuntimeException e) {
      retryOrFail(w, result, deadline, e.getStatus());
      return;
    }
    streams.computeIfAbsent(target, NodeStream::new).send(w, result, deadline);
  }

  /** The owner's ingest address; any node when the portion is unknown (it forwards). */
  private String ingestAddressOf(WriteRequest w) {
    ClusterStateSnapshot s = state;
    Integer vi = volumeIndex.get(w.getVolume());
    if (vi == null) {
      throw Status.NOT_FOUND.withDescription("volume '" + w.getVolume() + "' does not exist")
          .asRuntimeException();
    }
    Volume v = s.getVolumes(vi);
    long region = w.getOffset() / v.getRegionSizeBytes();
    // volumes and assignments are both sorted by name, one assignment per volume
    VolumeAssignment a = vi < s.getAssignmentCount() ? s.getAssignment(vi) : null;
    if (a != null && !a.getVolume().equals(w.getVolume())) {
      a = null;
    }
    if (a == null || region < 0 || region >= a.getOwnerCount() || a.getOwner((int) region) == 0) {
      throw Status.UNAVAILABLE.withDescription("no owner known for " + w.getVolume() + "/" + region)
          .asRuntimeException();
    }
    Member owner = s.getMembers(a.getOwner((int) region) - 1);
    return owner.getIngestAddress().isEmpty() ? owner.getAddress() : owner.getIngestAddress();
  }

  /** Whether an error is final for a write: no retry, whatever the assignment, changes it. */
  static boolean isFinal(Status.Code code) {
    return FINAL.contains(code);
  }

  private void retryOrFail(WriteRequest w, CompletableFuture<WriteAck> result, long deadline,
      Status status) {
    if (closed || isFinal(status.getCode()) || System.nanoTime() > deadline) {
      result.completeExceptionally(status.asRuntimeException());
      return;
    }
    long now = System.nanoTime();
    long waited = retryFor.toNanos() - (deadline - now);
    if (waited > SLOW_WRITE_NANOS && now - slowRetryLoggedAtNanos > SLOW_LOG_EVERY_NANOS) {
      slowRetryLoggedAtNanos = now;
      LOG.warn("write {} ({} at offset {}) not acknowledged for {} ms; retrying after: {} {}",
          w.getClientSeq(), w.getVolume(), w.getOffset(), waited / 1_000_000, status.getCode(),
          status.getDescription());
    }
    // the owner moved, a node fenced a stale sender, is down or starting: learn the assignment
    // again, then re-send the same write (same client_seq: stored once)
    try {
      timer.schedule(() -> {
        boolean fresh = refreshQuietly();
        if (status.getCode() == Status.Code.NOT_FOUND && fresh
            && !volumeIndex.containsKey(w.getVolume())) {
          // the cluster's current assignment agrees: the volume really does not exist
          result.completeExceptionally(status.asRuntimeException());
          return;
        }
        send(w, result, deadline);
      }, 100, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      result.completeExceptionally(status.asRuntimeException()); // closed meanwhile
    }
  }

  /** One Ingest stream to one node, reopened after it breaks. */
  private final class NodeStream {
    private final ManagedChannel channel;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private StreamObserver<WriteRequest> requests;

    private record Pending(WriteRequest write, CompletableFuture<WriteAck> result, long deadline) {}

    NodeStream(String address) {
      HostAndPort hp = HostAndPort.fromString(address);
      channel = NettyChannelBuilder.forAddress(hp.getHost(), hp.getPort()).usePlaintext().build();
    }

    synchronized void send(WriteRequest w, CompletableFuture<WriteAck> result, long deadline) {
      Pending sentNow = new Pending(w, result, deadline);
      pending.put(w.getClientSeq(), sentNow);
      try {
        timer.schedule(() -> {
          if (pending.remove(w.getClientSeq(), sentNow)) {
            retryOrFail(w, result, deadline, Status.UNAVAILABLE.withDescription(
                "no answer within " + answerDeadline.toMillis() + " ms"));
          }
        }, answerDeadline.toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // closed: close() fails what is pending
      }
      if (requests == null) {
        requests = IngestGrpc.newStub(Reconnect.now(channel)).write(new StreamObserver<>() {
          @Override
          public void onNext(WriteResponse r) {
            answered(r);
          }

          @Override
          public void onError(Throwable t) {
            broken(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            broken(Status.UNAVAILABLE.withDescription("node closed the stream"));
          }
        });
      }
      requests.onNext(w);
    }

    private void answered(WriteResponse r) {
      Pending p = pending.remove(r.getClientSeq());
      if (p == null) {
        return;
      }
      if (r.hasAck()) {
        p.result().complete(new WriteAck(r.getClientSeq(), r.getAck().getEpoch(), r.getAck().getN()));
      } else {
        retryOrFail(p.write(), p.result(), p.deadline(),
            Status.fromCodeValue(r.getError().getCode()).withDescription(r.getError().getMessage()));
      }
    }

    private void broken(Status why) {
      synchronized (this) {
        requests = null;
      }
      Status status = why.getCode() == Status.Code.CANCELLED ? why
          : Status.UNAVAILABLE.withDescription("stream to the node broke: " + why);
      for (Long seq : pending.keySet()) {
        Pending p = pending.remove(seq);
        if (p != null) {
          retryOrFail(p.write(), p.result(), p.deadline(), status);
        }
      }
    }

    void close() {
      channel.shutdownNow();
    }
  }

  @Override
  public void close() {
    closed = true;
    timer.shutdownNow();
    streams.values().forEach(NodeStream::close);
    admin.close();
  }
}
