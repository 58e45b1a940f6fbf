package dev.ferry.node.data;

import com.google.common.net.HostAndPort;
import dev.ferry.proto.secondary.SecondaryGrpc;
import dev.ferry.proto.secondary.StageReply;
import dev.ferry.proto.secondary.StageRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** Channels to the secondary sites, one per address, and the Stage call over them. Thread-safe. */
final class SecondaryLinks implements AutoCloseable {
  private static final long STAGE_DEADLINE_SECONDS = 30;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  /** Streams one portion's updates and watermark; completes when the secondary staged them. */
  CompletableFuture<StageReply> stage(String secondary, List<StageRequest> messages) {
    CompletableFuture<StageReply> result = new CompletableFuture<>();
    StreamObserver<StageRequest> out = SecondaryGrpc.newStub(channel(secondary))
        .withDeadlineAfter(STAGE_DEADLINE_SECONDS, TimeUnit.SECONDS)
        .stage(new StreamObserver<>() {
          @Override
          public void onNext(StageReply r) {
            result.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            result.completeExceptionally(new IllegalStateException("no answer from " + secondary));
          }
        });
    messages.forEach(out::onNext);
    out.onCompleted();
    return result;
  }

  ManagedChannel channel(String secondary) {
    return dev.ferry.client.Reconnect.now(channels.computeIfAbsent(secondary, a -> {
      HostAndPort hp = HostAndPort.fromString(a);
      return NettyChannelBuilder.forAddress(hp.getHost(), hp.getPort()).usePlaintext().build();
    }));
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}
