package dev.ferry.node.data;

import com.google.protobuf.ByteString;
import dev.ferry.proto.ingest.IngestGrpc;
import dev.ferry.proto.ingest.WriteRequest;
import dev.ferry.proto.ingest.WriteResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/** A raw Ingest stream to one node: sends writes, hands back each answer by client_seq. */
final class IngestProbe implements AutoCloseable {
  private final ManagedChannel channel;
  private final StreamObserver<WriteRequest> requests;
  private final Map<Long, CompletableFuture<WriteResponse>> answers = new ConcurrentHashMap<>();

  IngestProbe(String address) {
    channel = NettyChannelBuilder.forTarget(address).usePlaintext().build();
    requests = IngestGrpc.newStub(channel).write(new StreamObserver<>() {
      @Override
      public void onNext(WriteResponse r) {
        answers.computeIfAbsent(r.getClientSeq(), k -> new CompletableFuture<>()).complete(r);
      }

      @Override
      public void onError(Throwable t) {
        answers.values().forEach(f -> f.completeExceptionally(t));
      }

      @Override
      public void onCompleted() {}
    });
  }

  static int crc(byte[] data) {
    CRC32C c = new CRC32C();
    c.update(data);
    return (int) c.getValue();
  }

  static WriteRequest write(String primary, long seq, String volume, long offset, byte[] data) {
    return WriteRequest.newBuilder().setPrimaryId(primary).setClientSeq(seq).setVolume(volume)
        .setOffset(offset).setData(ByteString.copyFrom(data)).setCrc32C(crc(data)).build();
  }

  /** Sends and returns the future answer (a stream answers each client_seq once per send). */
  synchronized CompletableFuture<WriteResponse> send(WriteRequest w) {
    CompletableFuture<WriteResponse> f = new CompletableFuture<>();
    answers.put(w.getClientSeq(), f);
    requests.onNext(w);
    return f;
  }

  WriteResponse call(WriteRequest w) throws Exception {
    return send(w).get(20, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    requests.onCompleted();
    channel.shutdownNow();
  }
}
