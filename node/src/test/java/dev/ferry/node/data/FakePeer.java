package dev.ferry.node.data;

import dev.ferry.proto.peer.ForwardRequest;
import dev.ferry.proto.peer.HandoffReply;
import dev.ferry.proto.peer.HandoffRequest;
import dev.ferry.proto.peer.MirrorRequest;
import dev.ferry.proto.peer.PeerGrpc;
import dev.ferry.proto.peer.PeerResponse;
import dev.ferry.proto.peer.ResendHandoffReply;
import dev.ferry.proto.peer.ResendHandoffRequest;
import dev.ferry.proto.peer.Sequenced;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Another member's Peer service, played by the test over real gRPC on loopback: it keeps every
 * forwarded write unanswered until the test answers it (an owner that is paused, then resumes),
 * answers mirrors at once, and records handoffs and requests for them.
 */
final class FakePeer implements AutoCloseable {
  private record Pending(ForwardRequest request, StreamObserver<PeerResponse> answers) {}

  final List<ForwardRequest> forwards = new CopyOnWriteArrayList<>();
  final List<HandoffRequest> handoffs = new CopyOnWriteArrayList<>();
  final List<ResendHandoffRequest> resendRequests = new CopyOnWriteArrayList<>();
  private final List<Pending> unanswered = new CopyOnWriteArrayList<>();
  private final Server server;

  FakePeer() throws IOException {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new PeerGrpc.PeerImplBase() {
          @Override
          public StreamObserver<ForwardRequest> forward(StreamObserver<PeerResponse> out) {
            return new Requests<>(r -> {
              forwards.add(r);
              unanswered.add(new Pending(r, out));
            });
          }

          @Override
          public StreamObserver<MirrorRequest> mirror(StreamObserver<PeerResponse> out) {
            return new Requests<>(r -> {
              synchronized (out) {
                out.onNext(PeerResponse.newBuilder().setId(r.getId()).setSequenced(Sequenced
                    .newBuilder().setEpoch(r.getUpdate().getEpoch()).setN(r.getUpdate().getN()))
                    .build());
              }
            });
          }

          @Override
          public void handoff(HandoffRequest r, StreamObserver<HandoffReply> out) {
            handoffs.add(r);
            out.onNext(HandoffReply.getDefaultInstance());
            out.onCompleted();
          }

          @Override
          public void resendHandoff(ResendHandoffRequest r, StreamObserver<ResendHandoffReply> out) {
            resendRequests.add(r);
            out.onNext(ResendHandoffReply.getDefaultInstance());
            out.onCompleted();
          }
        }).build().start();
  }

  String address() {
    return "127.0.0.1:" + server.getPort();
  }

  /**
   * Answers every forward received so far with the given number (the first gets n, ...), on
   * the streams the sender has not given up (cancelled) meanwhile.
   */
  void answerForwards(long epoch, long firstN) {
    long n = firstN;
    for (Pending p : unanswered) {
      synchronized (p.answers()) {
        if (!((io.grpc.stub.ServerCallStreamObserver<PeerResponse>) p.answers()).isCancelled()) {
          p.answers().onNext(PeerResponse.newBuilder().setId(p.request().getId())
              .setSequenced(Sequenced.newBuilder().setEpoch(epoch).setN(n++)).build());
        }
      }
      unanswered.remove(p);
    }
  }

  @Override
  public void close() {
    server.shutdownNow();
  }

  /** A request stream whose messages go to one handler; the stream's end is answered. */
  private static final class Requests<T> implements StreamObserver<T> {
    private final java.util.function.Consumer<T> handler;

    Requests(java.util.function.Consumer<T> handler) {
      this.handler = handler;
    }

    @Override
    public void onNext(T value) {
      handler.accept(value);
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }
}
