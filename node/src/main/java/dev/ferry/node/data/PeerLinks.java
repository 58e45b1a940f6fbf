package dev.ferry.node.data;

import com.google.common.net.HostAndPort;
import dev.ferry.proto.peer.ForwardRequest;
import dev.ferry.proto.peer.MirrorRequest;
import dev.ferry.proto.peer.PeerGrpc;
import dev.ferry.proto.peer.PeerResponse;
import dev.ferry.proto.peer.HandoffReply;
import dev.ferry.proto.peer.HandoffRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.LongFunction;

/**
 * This node's outgoing Mirror and Forward streams, one of each per peer, opened on first use
 * and reopened after a failure. Responses are matched to requests by id.
 *
 * <p>Threading: {@link #mirror}, {@link #forward}, {@link #handoff} and {@link #giveUp} are
 * called only from the data-path thread
 * (gRPC stream observers are not thread-safe); responses arrive on gRPC threads and only
 * complete futures.
 */
final class PeerLinks implements AutoCloseable {
  /**
   * How long a Mirror or Forward request waits for its answer. A peer that is paused or
   * partitioned keeps its TCP connection, so without this a write (and the Seal that waits for
   * it) could wait forever; past it the request fails UNAVAILABLE, never acknowledged, and the
   * primary retries.
   */
  static final java.time.Duration REQUEST_DEADLINE = java.time.Duration.ofSeconds(5);
  private static final java.util.concurrent.ScheduledExecutorService DEADLINES =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ferry-peer-deadlines");
        t.setDaemon(true);
        return t;
      });

  private final java.time.Duration requestDeadline;
  private final Map<String, ManagedChannel> channels = new HashMap<>();
  private final Map<String, HostAndPort> channelAddress = new HashMap<>();
  private final Map<String, Link> mirrorLinks = new HashMap<>();
  private final Map<String, Link> forwardLinks = new HashMap<>();
  private long nextId;
  /** Told (member, status) when a connection to a member fails as UNAVAILABLE; any thread. */
  private volatile java.util.function.BiConsumer<String, String> unreachable = (m, why) -> { };

  PeerLinks() {
    this(REQUEST_DEADLINE);
  }

  PeerLinks(java.time.Duration requestDeadline) {
    this.requestDeadline = requestDeadline;
  }

  /** Where to report a member whose connection broke (DESIGN.md §6, peers reporting). */
  void onUnreachable(java.util.function.BiConsumer<String, String> report) {
    this.unreachable = report;
  }

  /** Sends one update to {@code member}'s mirror stream; completes when its copy is durable. */
  CompletableFuture<SequenceNumber> mirror(String member, HostAndPort address, MirrorRequest.Builder r) {
    return send(mirrorLinks, member, address, PeerGrpc.PeerStub::mirror, id -> r.setId(id).build());
  }

  /** Forwards one update to its owner; completes with the owner's sequence number. */
  CompletableFuture<SequenceNumber> forward(String member, HostAndPort address, ForwardRequest.Builder r) {
    return send(forwardLinks, member, address, PeerGrpc.PeerStub::forward, id -> r.setId(id).build());
  }

  /** Hands a failed owner's updates to {@code member}, their new owner (one unary call). */
  CompletableFuture<HandoffReply> handoff(String member, HostAndPort address, HandoffRequest r) {
    return unary(member, PeerGrpc.newFutureStub(channel(member, address))
        .withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS).handoff(r));
  }

  /** Asks {@code member} to hand over again what it holds of {@code failed}'s updates. */
  CompletableFuture<dev.ferry.proto.peer.ResendHandoffReply> askForHandoff(String member,
      HostAndPort address, dev.ferry.proto.peer.ResendHandoffRequest r) {
    return unary(member, PeerGrpc.newFutureStub(channel(member, address))
        .withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS).resendHandoff(r));
  }

  /** A unary call's answer as a CompletableFuture; a refused connection is reported. */
  private <T> CompletableFuture<T> unary(String member,
      com.google.common.util.concurrent.ListenableFuture<T> call) {
    CompletableFuture<T> out = new CompletableFuture<>();
    call.addListener(() -> {
      try {
        out.complete(call.get());
      } catch (java.util.concurrent.ExecutionException e) {
        reportIfUnreachable(member, Status.fromThrowable(e.getCause()));
        out.completeExceptionally(e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        out.completeExceptionally(e);
      }
    }, Runnable::run);
    return out;
  }

  /** Asks {@code member} for its copy of one sequenced update (repair of a damaged copy). */
  dev.ferry.proto.peer.FetchCopyReply fetchCopy(String member, HostAndPort address,
      dev.ferry.proto.peer.FetchCopyRequest r) {
    return PeerGrpc.newBlockingStub(channel(member, address))
        .withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS).fetchCopy(r);
  }

  private CompletableFuture<SequenceNumber> send(Map<String, Link> links, String member,
      HostAndPort address,
      BiFunction<PeerGrpc.PeerStub, StreamObserver<PeerResponse>, StreamObserver<?>> open,
      LongFunction<Object> request) {
    Link link = links.get(member);
    if (link == null || link.isBroken()) {
      link = new Link(member);
      links.put(member, link);
      link.requests = erase(open.apply(PeerGrpc.newStub(channel(member, address)), link.responses()));
    }
    long id = ++nextId;
    CompletableFuture<SequenceNumber> result = link.expect(id);
    if (!result.isDone()) {
      link.requests.onNext(request.apply(id));
      Link on = link;
      DEADLINES.schedule(() -> on.expired(id, requestDeadline), requestDeadline.toMillis(),
          TimeUnit.MILLISECONDS);
    }
    return result;
  }

  /**
   * {@code member} was declared FAILED: its Mirror and Forward streams are given up at once, and
   * every request on them fails UNAVAILABLE (never acknowledged: the primary retries, and the
   * re-mirroring goes to the member's successors). A partitioned member keeps its TCP
   * connections, so without this each request waited out its deadline, and every Seal with it
   * (the soak: acks back only 6 s after a leader partition). Data-path thread.
   */
  void giveUp(String member, String why) {
    for (Map<String, Link> links : List.of(mirrorLinks, forwardLinks)) {
      Link link = links.remove(member);
      if (link != null) {
        link.broken(Status.UNAVAILABLE.withDescription(member + " " + why));
        link.requests.onError(Status.CANCELLED.withDescription(why).asException());
      }
    }
  }

  /** A refused or reset connection (not a status the peer answered with) is reported. */
  private void reportIfUnreachable(String member, Status status) {
    if (status.getCode() == Status.Code.UNAVAILABLE) {
      unreachable.accept(member, status.toString());
    }
  }

  @SuppressWarnings("unchecked")
  private static StreamObserver<Object> erase(StreamObserver<?> requests) {
    return (StreamObserver<Object>) requests;
  }

  private ManagedChannel channel(String member, HostAndPort address) {
    if (!address.equals(channelAddress.get(member))) {
      ManagedChannel old = channels.remove(member);
      if (old != null) {
        old.shutdown();
      }
      channels.put(member, NettyChannelBuilder.forAddress(address.getHost(), address.getPort())
          .usePlaintext().build());
      channelAddress.put(member, address);
    }
    return dev.ferry.client.Reconnect.now(channels.get(member));
  }

  /**
   * One stream to one peer and the requests awaiting an answer on it. A broken stream stays
   * broken: the next send opens a new Link, so a stream that fails while it is being opened
   * can never swallow a later request.
   */
  private final class Link {
    private final String member;
    private final Map<Long, CompletableFuture<SequenceNumber>> pending = new HashMap<>();
    private Status brokenWith;
    /** Set once, on the data-path thread, right after the stream is opened. */
    StreamObserver<Object> requests;

    Link(String member) {
      this.member = member;
    }

    synchronized boolean isBroken() {
      return brokenWith != null;
    }

    /** The future answer to request {@code id}; already failed if the stream is broken. */
    synchronized CompletableFuture<SequenceNumber> expect(long id) {
      if (brokenWith != null) {
        return CompletableFuture.failedFuture(brokenWith.asException());
      }
      CompletableFuture<SequenceNumber> f = new CompletableFuture<>();
      pending.put(id, f);
      return f;
    }

    private synchronized CompletableFuture<SequenceNumber> answered(long id) {
      return pending.remove(id);
    }

    /** Request {@code id} got no answer within the deadline: it fails, retryable. */
    void expired(long id, java.time.Duration deadline) {
      CompletableFuture<SequenceNumber> f = answered(id);
      if (f != null) {
        f.completeExceptionally(Status.UNAVAILABLE.withDescription("no answer from " + member
            + " within " + deadline.toMillis() + " ms").asException());
      }
    }

    StreamObserver<PeerResponse> responses() {
      return new StreamObserver<>() {
        @Override
        public void onNext(PeerResponse r) {
          CompletableFuture<SequenceNumber> f = answered(r.getId());
          if (f == null) {
            return;
          }
          if (r.hasSequenced()) {
            f.complete(new SequenceNumber(r.getSequenced().getEpoch(), r.getSequenced().getN()));
          } else {
            f.completeExceptionally(Status.fromCodeValue(r.getError().getCode())
                .withDescription(r.getError().getMessage()).asException());
          }
        }

        @Override
        public void onError(Throwable t) {
          Status status = Status.fromThrowable(t);
          reportIfUnreachable(member, status);
          broken(status);
        }

        @Override
        public void onCompleted() {
          broken(Status.UNAVAILABLE.withDescription("peer closed the stream"));
        }
      };
    }

    /** Everything in flight on this stream fails as retryable. */
    void broken(Status why) {
      Status status = why.getCode() == Status.Code.UNAVAILABLE ? why
          : Status.UNAVAILABLE.withDescription("peer stream failed: " + why);
      List<CompletableFuture<SequenceNumber>> failed;
      synchronized (this) {
        brokenWith = status;
        failed = new ArrayList<>(pending.values());
        pending.clear();
      }
      failed.forEach(f -> f.completeExceptionally(status.asException()));
    }
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    for (ManagedChannel c : channels.values()) {
      try {
        c.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
